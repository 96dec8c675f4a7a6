// placement: rank 0's bookkeeping of where started workers go (hostfiles, free slots, bad nodes, drain).
#include <catch2/catch.hpp>

#include "dips/placement.h"

using namespace dips;

TEST_CASE("hostfiles in mpirun's format: slots, comments, repeated hosts; bad slot counts refused", "[placement]") {
  std::vector<HostSlots> hosts;
  REQUIRE(parse_hostfile("# cluster\n10.0.0.1 slots=2\n\n  node-b   # one slot\nnode-c slots=4 max_slots=8\n10.0.0.1 slots=1\n", &hosts).ok());
  REQUIRE(hosts.size() == 3);
  CHECK(hosts[0].name == "10.0.0.1");
  CHECK(hosts[0].slots == 3);
  CHECK(hosts[1].name == "node-b");
  CHECK(hosts[1].slots == 1);
  CHECK(hosts[2].slots == 4);
  for (const char* bad : {"a slots=0\n", "a slots=x\n", "a slots=\n", "a slots=-1\n"}) {
    const Status status = parse_hostfile(bad, &hosts);
    CHECK(!status.ok());
    CHECK(status.message().find("line 1") != std::string::npos);
  }
  CHECK(!read_hostfile("/nonexistent/hostfile", &hosts).ok());
}

TEST_CASE("placement: the host with most free slots, the preferred one when it has room, none when full", "[placement]") {
  Placement p({{"a", 2}, {"b", 1}}, 8);
  auto first = p.place();
  REQUIRE(first);
  CHECK(first->host == "a");
  CHECK(!first->add_host);
  p.started(1, *first);
  auto second = p.place();  // a and b have one free slot each: the first listed
  REQUIRE(second);
  CHECK(second->host == "a");
  p.started(2, *second);
  auto third = p.place();
  REQUIRE(third);
  CHECK(third->host == "b");
  p.started(3, *third);
  CHECK(!p.place());  // a spawn without a free slot is never attempted
  CHECK(p.free_slots() == 0);
  p.lost(2, true);    // its slot is free again, and a worker still answers on a: the replacement goes there
  auto again = p.place(std::string("a"));
  REQUIRE(again);
  CHECK(again->host == "a");
  CHECK(p.host_of(1) == std::optional<std::string>("a"));
  CHECK(!p.host_of(2));
}

TEST_CASE("placement: a host that lost all its workers gets no new one (its daemon or link may be gone), rank 0's may", "[placement]") {
  Placement p({{"rank0", 1}, {"b", 1}}, 8);
  p.started(1, Place{"rank0", false, 1});
  p.started(2, Place{"b", false, 1});
  p.lost(2, true);
  CHECK(!p.place(std::string("b")));
  CHECK(p.bad_hosts() == std::vector<std::string>{"b"});
  p.lost(1, true);  // rank 0 runs there: its machine is alive
  auto place = p.place(std::string("rank0"));
  REQUIRE(place);
  CHECK(place->host == "rank0");
}

TEST_CASE("placement: without a hostfile, rank 0's machine with its slots", "[placement]") {
  Placement p({}, 2);
  auto place = p.place();
  REQUIRE(place);
  CHECK(place->host.empty());
  p.started(1, *place);
  p.started(2, *p.place());
  CHECK(!p.place());
}

TEST_CASE("placement: a host where two workers in a row died before doing any work gets no more", "[placement]") {
  Placement p({{"rank0", 1}, {"bad", 3}}, 1);
  p.started(1, Place{"bad", false, 3});  // keeps working: the host is not suspect
  p.started(2, Place{"bad", false, 3});
  p.lost(2, false);
  REQUIRE(p.place(std::string("bad")));
  CHECK(p.place(std::string("bad"))->host == "bad");
  p.started(3, Place{"bad", false, 3});
  p.lost(3, false);
  CHECK(p.bad_hosts() == std::vector<std::string>{"bad"});
  CHECK(p.place(std::string("bad"))->host == "rank0");
  CHECK(p.free_slots() == 1);  // rank 0's; the two left on "bad" are not usable
  // An ordinary fault (a worker that did work) does not make a host bad, and it clears the count.
  Placement q({{"good", 3}}, 1);
  q.started(1, Place{"good", false, 3});
  q.started(2, Place{"good", false, 3});
  q.lost(2, false);
  q.started(3, Place{"good", false, 3});
  q.lost(3, true);
  q.started(4, Place{"good", false, 3});
  q.lost(4, false);
  REQUIRE(q.place());
  CHECK(q.place()->host == "good");
}

TEST_CASE("placement: hosts added to the hostfile become usable; hosts removed or shrunk drain their newest workers", "[placement]") {
  Placement p({{"a", 2}}, 1);
  p.started(1, *p.place());
  p.started(2, *p.place());
  CHECK(!p.place());
  CHECK(p.update({{"a", 2}, {"new", 2}}).empty());
  auto place = p.place();
  REQUIRE(place);
  CHECK(place->host == "new");
  CHECK(place->add_host);  // not yet part of the MPI job: its daemon starts with this worker
  CHECK(place->host_slots == 2);
  p.started(3, *place);
  place = p.place();
  REQUIRE(place);
  CHECK(place->host == "new");
  CHECK(!place->add_host);  // the second worker there joins the running daemon
  p.started(4, *place);
  CHECK(p.update({{"a", 1}}) == std::vector<int>{4, 3, 2});
  p.stopped(4);
  p.stopped(3);
  p.stopped(2);
  CHECK(!p.place());  // "new" is gone, "a" has its one slot taken
  CHECK(p.update({{"a", 1}}).empty());
}

TEST_CASE("placement: a worker that stopped after draining frees its slot, and its host stays usable", "[placement]") {
  Placement p({{"rank0", 1}, {"b", 1}}, 1);
  p.started(1, Place{"b", false, 1});
  CHECK(p.free_slots() == 1);
  p.stopped(1);  // retired, not lost: "b" lost no worker
  CHECK(p.free_slots() == 2);
  CHECK(!p.host_of(1));
  CHECK(p.bad_hosts().empty());
  const auto place = p.place(std::string("b"));
  REQUIRE(place);
  CHECK(place->host == "b");
}
