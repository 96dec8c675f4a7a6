#include "dips/fault.h"

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
      if (key == "rank") plan.rank = std::stoi(value);
      else if (key == "after") plan.after = std::stoi(value);
      else if (key == "kind") plan.kind = value;
      else throw std::invalid_argument(key);
    } catch (const std::exception&) {
      *error = "DIPS_FAULT: cannot parse '" + item + "'";
      return FaultPlan();
    }
  }
  if (plan.kind != "kill" && plan.kind != "stop" && plan.kind != "exit" && plan.kind != "hang" && plan.kind != "slow" &&
      plan.kind != "garble") {
    *error = "DIPS_FAULT: kind must be kill, stop, exit, hang, slow or garble";
    return FaultPlan();
  }
  return plan;
}

FaultPlan fault_plan_for_rank(int rank) {
  const char* text = std::getenv("DIPS_FAULT");
  if (text == nullptr || *text == '\0') return FaultPlan();
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ';');) {
    std::string error;
    FaultPlan plan = parse_fault_plan(item, &error);
    if (!error.empty() && rank == 0) std::fprintf(stderr, "dips: warning: %s; that fault is not injected\n", error.c_str());
    if (plan.rank == rank) return plan;
  }
  return FaultPlan();
}

FaultAction fault_tick(const FaultPlan& plan, int* count) {
  if (!plan.active() || ++*count != plan.after) return FaultAction::kNone;
  std::fprintf(stderr, "dips: DIPS_FAULT: rank %d injects '%s' now\n", plan.rank, plan.kind.c_str());
  std::fflush(stderr);
  if (plan.kind == "slow") return FaultAction::kSlow;
  if (plan.kind == "garble") return FaultAction::kGarble;
  if (plan.kind == "kill") ::raise(SIGKILL);
  if (plan.kind == "stop") ::raise(SIGSTOP);
  if (plan.kind == "exit") ::_exit(1);
  for (volatile unsigned long spin = 0;; ++spin) {  // "hang"
  }
}

}  // namespace dips
