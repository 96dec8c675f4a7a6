#include "dips/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace dips {

Status parse_hostfile(const std::string& text, std::vector<HostSlots>* hosts) {
  hosts->clear();
  std::istringstream lines(text);
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string name;
    if (!(words >> name)) continue;
    HostSlots host{name, 1};
    for (std::string word; words >> word;) {
      if (word.rfind("slots=", 0) != 0) continue;  // max_slots= and others are mpirun's business
      const std::string value = word.substr(6);
      if (value.empty() || value.size() > 6 || !std::all_of(value.begin(), value.end(), ::isdigit) || std::stoi(value) < 1) {
        return Status::Error(fmt::format("line {}: slots must be a positive number (got '{}')", number, word));
      }
      host.slots = std::stoi(value);
    }
    auto same = std::find_if(hosts->begin(), hosts->end(), [&](const HostSlots& h) { return h.name == name; });
    if (same != hosts->end()) same->slots += host.slots;
    else hosts->push_back(host);
  }
  return Status();
}

Status read_hostfile(const std::string& path, std::vector<HostSlots>* hosts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(fmt::format("cannot read hostfile '{}'", path));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  Status status = parse_hostfile(text, hosts);
  return status.ok() ? status : Status::Error(fmt::format("hostfile '{}': {}", path, status.message()));
}

Placement::Placement(std::vector<HostSlots> hosts, int local_slots) {
  if (hosts.empty()) hosts.push_back(HostSlots{"", std::max(1, local_slots)});
  for (const HostSlots& h : hosts) {
    Host& host = hosts_[h.name];
    host.slots = h.slots;
    host.in_job = true;
    order_.push_back(h.name);
  }
}

int Placement::used(const std::string& host) const {
  return static_cast<int>(std::count_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w.second == host; }));
}

std::optional<Place> Placement::place(const std::optional<std::string>& prefer) const {
  const auto free_on = [&](const std::string& name) {
    const Host& host = hosts_.at(name);
    return usable(host) ? host.slots - used(name) : 0;
  };
  std::string best;
  int best_free = 0;
  for (const std::string& name : order_) {
    const int free = free_on(name);
    if (free > best_free) {
      best = name;
      best_free = free;
    }
  }
  if (prefer && hosts_.count(*prefer) && free_on(*prefer) > 0) best = *prefer;
  if (best_free <= 0) return std::nullopt;
  const Host& host = hosts_.at(best);
  return Place{best, !host.in_job, host.slots};
}

void Placement::started(int worker, const Place& place) {
  workers_[worker] = place.host;
  auto it = hosts_.find(place.host);
  if (it != hosts_.end()) it->second.in_job = true;
}

void Placement::lost(int worker, bool did_work) {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return;
  auto host = hosts_.find(it->second);
  workers_.erase(it);
  if (host == hosts_.end()) return;
  host->second.fruitless = did_work ? 0 : host->second.fruitless + 1;
  if (host->first != order_.front() && used(host->first) == 0) host->second.suspect = true;
}

void Placement::stopped(int worker) { workers_.erase(worker); }

std::vector<int> Placement::update(const std::vector<HostSlots>& hosts) {
  for (auto& [name, host] : hosts_) host.listed = false;
  for (const HostSlots& h : hosts) {
    if (!hosts_.count(h.name)) order_.push_back(h.name);
    Host& host = hosts_[h.name];
    host.listed = true;
    host.slots = h.slots;
  }
  std::vector<int> drain;
  for (const auto& [name, host] : hosts_) {
    int excess = used(name) - (host.listed ? host.slots : 0);
    for (auto it = workers_.rbegin(); it != workers_.rend() && excess > 0; ++it) {
      if (it->second != name) continue;
      drain.push_back(it->first);
      --excess;
    }
  }
  std::sort(drain.rbegin(), drain.rend());
  return drain;
}

int Placement::free_slots() const {
  int free = 0;
  for (const auto& [name, host] : hosts_) {
    if (usable(host)) free += std::max(0, host.slots - used(name));
  }
  return free;
}

std::optional<std::string> Placement::host_of(int worker) const {
  auto it = workers_.find(worker);
  if (it == workers_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Placement::bad_hosts() const {
  std::vector<std::string> bad;
  for (const auto& [name, host] : hosts_) {
    if (host.fruitless >= kMaxFruitlessLosses || host.suspect) bad.push_back(name);
  }
  return bad;
}

}  // namespace dips
