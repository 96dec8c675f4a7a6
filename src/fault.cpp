#include "dips/fault.h"

#include "dips/coverage.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace dips {

FaultPlan parse_fault_plan(const std::string& text, std::string* error) {
  FaultPlan plan;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');) {
    const size_t colon = item.find(':');
    const std::string key = item.substr(0, colon), value = colon == std::string::npos ? "" : item.substr(colon + 1);
    try {
      if (key == "rank") plan.rank = value == "any" ? FaultPlan::kAnyWorker : std::stoi(value);
      else if (key == "piece") plan.piece = value;
      else if (key == "after") plan.after = std::stoi(value);
      else if (key == "kind") plan.kind = value;
      else throw std::invalid_argument(key);
    } catch (const std::exception&) {
      *error = "DIPS_FAULT: cannot parse '" + item + "'";
      return FaultPlan();
    }
  }
  if (plan.kind != "kill" && plan.kind != "killdone" && plan.kind != "killprogress" && plan.kind != "stop" && plan.kind != "exit" &&
      plan.kind != "hang" && plan.kind != "slow" && plan.kind != "garble" && plan.kind != "hold") {
    *error = "DIPS_FAULT: kind must be kill, killdone, killprogress, stop, exit, hang, slow, garble or hold";
    return FaultPlan();
  }
  const bool worker = plan.rank > 0 || plan.rank == FaultPlan::kAnyWorker;
  const bool worker_only = plan.kind == "killdone" || plan.kind == "killprogress";  // they strike when a piece is done or half-way
  const bool valid = (plan.rank >= 0 || plan.rank == FaultPlan::kAnyWorker) && plan.after >= (worker || plan.kind == "slow" ? 0 : 1) &&
                     (plan.kind != "hold" || plan.rank == 0) && (!worker_only || worker) && (plan.piece.empty() || worker) &&
                     (plan.rank != FaultPlan::kAnyWorker || !plan.piece.empty());
  if (!valid) {
    *error = "DIPS_FAULT: rank must be 0 or more (any: with piece:KIND), after 1 or more (0 allowed for a worker), hold only for "
             "rank 0, killdone, killprogress and piece only for a worker";
    return FaultPlan();
  }
  return plan;
}

std::vector<FaultPlan> fault_plans() {
  std::vector<FaultPlan> plans;
  const char* text = std::getenv("DIPS_FAULT");
  if (text == nullptr || *text == '\0') return plans;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ';');) {
    std::string error;
    FaultPlan plan = parse_fault_plan(item, &error);
    if (!error.empty()) std::fprintf(stderr, "dips: warning: %s; that fault is not injected\n", error.c_str());
    if (plan.active()) plans.push_back(plan);
  }
  return plans;
}

double listing_delay_seconds() {
  const char* text = std::getenv("DIPS_FAULT");
  if (text == nullptr) return 0;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ';');) {
    std::string error;  // fault_plans() reports malformed plans
    const FaultPlan plan = parse_fault_plan(item, &error);
    if (plan.rank == 0 && plan.kind == "slow") return kSlowFaultSeconds;
  }
  return 0;
}

void inject_fault(int rank, const std::string& kind) {
  std::fprintf(stderr, "dips: DIPS_FAULT: rank %d injects '%s' now\n", rank, kind.c_str());
  std::fflush(stderr);
  const bool killed = kind == "kill" || kind == "killdone" || kind == "killprogress";
  if (killed || kind == "stop" || kind == "exit" || kind == "hang") flush_coverage();  // the process ends here
  if (killed) ::raise(SIGKILL);
  if (kind == "stop") ::raise(SIGSTOP);
  if (kind == "exit") ::_exit(1);
  if (kind == "hang") {  // the main thread spins: nothing is answered any more
    for (volatile unsigned long spin = 0;; ++spin) {
    }
  }
}

}  // namespace dips
