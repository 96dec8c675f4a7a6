#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dips/status.h"

namespace dips {

// A machine workers may run on, as a hostfile names it.
struct HostSlots {
  std::string name;
  int slots = 1;
};

// Parses a hostfile in mpirun's format: one host per line, "name [slots=N] [max_slots=M]...", '#' comments,
// blank lines; a host listed twice adds up its slots. An empty name stands for rank 0's machine.
Status parse_hostfile(const std::string& text, std::vector<HostSlots>* hosts);

// Reads and parses a hostfile.
Status read_hostfile(const std::string& path, std::vector<HostSlots>* hosts);

// Where to start one worker process.
struct Place {
  std::string host;    // a hostfile name; empty: rank 0's machine, wherever mpirun puts it
  bool add_host = false;  // the host is not yet part of the MPI job: its daemon starts with this worker
  int host_slots = 0;     // the host's slots (what the new daemon is told)
};

// A host where this many workers in a row died before finishing a single piece gets no new workers in
// this job (a bad node: a worker that dies again and again there is not started there forever). Its
// remaining workers keep working. A worker that did some work and then died is an ordinary fault: it
// resets the count.
constexpr int kMaxFruitlessLosses = 2;

// Rank 0's bookkeeping of where started workers run (pure, no I/O): free slots per host, losses per
// host, hosts to drain. dips starts a worker only where this says a slot is free, since a spawn that
// fails leaves mpirun unable to exit. The first host listed is rank 0's (mpirun puts rank 0 there).
// A host whose workers are all lost is suspect for the rest of the job (its daemon may be dead or its
// link cut: a spawn there would end the job or hang), except rank 0's: a replacement goes where a worker
// still answers, or to rank 0's machine. Workers of MPI_COMM_WORLD are not placed here (mpirun decides
// where they run), except on a single machine.
class Placement {
 public:
  // `hosts`: the hosts mpirun was given (empty: only rank 0's machine, with `local_slots` slots).
  Placement(std::vector<HostSlots> hosts, int local_slots);

  // Where the next worker goes: `prefer` if it has a free slot and is not bad, else the usable host
  // with the most free slots (the first listed among equals); nullopt when no slot is free.
  std::optional<Place> place(const std::optional<std::string>& prefer = std::nullopt) const;
  // A worker was started at `place`: it holds a slot there (and the host is now part of the job).
  void started(int worker, const Place& place);
  // A worker died: its slot is free again; `did_work`: it had finished at least one piece.
  void lost(int worker, bool did_work);
  // A worker stopped after draining: its slot is free again.
  void stopped(int worker);
  // The hostfile now says `hosts`: new hosts and slots become usable; returns the workers to drain
  // (on hosts gone, or beyond a host's new slot count), newest first.
  std::vector<int> update(const std::vector<HostSlots>& hosts);
  // Slots free on usable hosts: how many workers could start now.
  int free_slots() const;
  // The host a worker was started on ("" for rank 0's machine); nullopt for a worker not placed here.
  std::optional<std::string> host_of(int worker) const;
  // Hosts that lost kMaxFruitlessLosses workers in a row before they did any work, or all their workers.
  std::vector<std::string> bad_hosts() const;

 private:
  struct Host {
    int slots = 0;
    int fruitless = 0;    // workers lost in a row before finishing a piece
    bool in_job = false;  // mpirun knows it (from its hostfile, or added by a spawn)
    bool listed = true;   // in the latest hostfile
    bool suspect = false; // all its workers were lost
  };
  bool usable(const Host& host) const { return host.listed && !host.suspect && host.fruitless < kMaxFruitlessLosses; }
  int used(const std::string& host) const;
  std::map<std::string, Host> hosts_;
  std::vector<std::string> order_;          // hosts in the order they were first listed
  std::map<int, std::string> workers_;      // worker -> host
};

}  // namespace dips
