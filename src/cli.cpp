#include "dips/cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <map>
#include <sstream>

#include "dips/dashboard.h"
#include "dips/operation.h"
#include "dips/version.h"

namespace dips {
namespace po = boost::program_options;
namespace {

constexpr int64_t kMaxPixelsCeiling = 700000000;  // 3 bytes each stays under MPI's 2^31-byte count

struct Described {
  po::options_description visible{"Options"};
  po::options_description all;
  po::positional_options_description positional;
};

const char kUsage[] =
    "Usage:\n"
    "  mpirun -np N dips --op PIPELINE --output OUTDIR INPUT...\n"
    "  mpirun -np N dips --op PIPELINE --output OUTDIR --files-from LIST|-\n"
    "  mpirun -np N dips --manifest FILE|- --output OUTDIR\n"
    "  scripts/dips-run -n N [--hostfile H] -- <dips arguments>   (recommended: correct exit status)\n";

// Options given more than once: repeated flags are harmless and dropped; a value given twice is an error
// that names both values (Boost's own message names neither).
Status check_repeats(const po::options_description& all, po::parsed_options* parsed) {
  std::map<std::string, std::string> seen;
  auto& options = parsed->options;
  for (auto it = options.begin(); it != options.end();) {
    const std::string& key = it->string_key;
    const po::option_description* d = key.empty() ? nullptr : all.find_nothrow(key, false);
    if (d == nullptr || key == "input") {
      ++it;
      continue;
    }
    const std::string value = it->value.empty() ? "" : it->value.front();
    auto [first, fresh] = seen.emplace(key, value);
    if (fresh) {
      ++it;
    } else if (d->semantic()->max_tokens() == 0) {
      it = options.erase(it);
    } else {
      return Status::Error(fmt::format("--{} is given twice ('{}' and '{}'); give it once (see dips --help)", key, first->second, value));
    }
  }
  return Status();
}

// An output extension: letters and digits only, so that it can neither hold a path nor surprise a shell.
bool plain_extension(const std::string& format) {
  return !format.empty() && format.size() <= 10 &&
         std::all_of(format.begin(), format.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

Status parse_host_cores(const std::string& text, int* cores) {
  if (text == "auto" || text == "all") {
    *cores = text == "auto" ? kHostCoresAuto : kHostCoresAll;
    return Status();
  }
  int number = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, number);
  if (text.empty() || error != std::errc() || stop != end || number < 1 || number > 65536) {
    return Status::Error(fmt::format("--host-cores must be auto, all or a number of cores 1..65536 (got '{}')", text));
  }
  *cores = number;
  return Status();
}

Described describe(Options* o) {
  Described d;
  d.visible.add_options()
      ("op", po::value(&o->job.ops), "pipeline for every INPUT: operations separated by commas, each with an optional =N (e.g. blur=7,edge_detection)")
      ("manifest", po::value(&o->job.manifest), "job file: one task per line, input<TAB>pipeline[<TAB>output]; - reads it from standard input")
      ("files-from", po::value(&o->job.files_from), "with --op: more INPUT files, one per line (or NUL-separated, as find -print0 writes); - reads them from standard input")
      ("output,o", po::value<std::string>(), "output directory (required); outputs never go outside it")
      ("recursive,r", po::bool_switch(&o->job.recursive), "descend into sub-directories of INPUT directories")
      ("format", po::value(&o->job.format), "output format by extension: png, jpg, tif, bmp, webp (default: the input's)")
      ("overwrite", po::bool_switch(&o->overwrite), "replace existing outputs (default: such a task fails)")
      ("resume", po::bool_switch(&o->resume), "skip tasks the report records as done whose output exists, redo (overwrite) the others; append to the report")
      ("report", po::value<std::string>(), "report file (JSON lines, appended to, never truncated; default OUTDIR/report.jsonl)")
      ("dry-run", po::bool_switch(&o->dry_run), "print the plan (tasks, tiles, outputs) and touch nothing")
      ("tile-rows", po::value(&o->tile_rows), "rows per band for every image taller than this; 0 = automatic: whole files while tasks outnumber worker threads, large images among the last ones in bands")
      ("io", po::value<std::string>()->default_value("auto"), "who reads inputs and writes outputs: auto (workers, if they all see rank 0's files, else rank 0), shared (workers), mpi (rank 0; bytes travel over MPI)")
      ("threads", po::value(&o->threads), "compute threads per worker (default: 1 under mpirun; every core when dips runs alone)")
      ("sync", po::bool_switch(&o->sync), "make every output durable (fsync) before its report line; default: atomic rename only")
      ("max-pixels", po::value(&o->max_pixels), "refuse images whose header claims more pixels (default 268435456)")
      ("max-file-bytes", po::value(&o->max_file_bytes), "refuse input files larger than this (default 1 GiB)")
      ("ping-interval", po::value(&o->scheduler.ping_interval), "seconds between liveness pings to each worker (default 0.2)")
      ("ping-timeout", po::value(&o->scheduler.ping_timeout), "a worker silent this many seconds after a ping is dead (default 1.5)")
      ("tail-copies", po::value<std::string>()->default_value("on"), "on: once no piece waits, a worker with a free thread also gets the pieces of a worker whose ping is overdue, and the first result counts (a worker killed at the job's end otherwise holds it up for --ping-timeout); off: they wait for that worker's answer or its loss")
      ("piece-timeout", po::value(&o->scheduler.piece_timeout), "a piece running longer than this many seconds marks its worker hung (default 0: no limit)")
      ("host-cores", po::value<std::string>()->default_value("auto"), "compute threads per machine that take pieces: auto (as many as the CPUs its workers may run on), all (every worker works, however many share a core), or a number; a machine's other workers stand by and take over from a worker that is lost")
      ("queue-depth", po::value(&o->scheduler.queue_depth), "pieces in flight per worker thread, at least (default 1)")
      ("lookahead", po::value(&o->scheduler.lookahead), "more pieces go to a worker while its estimated work in flight per thread is under this many seconds, and a longer piece when about that much of its work is left (default 0.1; 0: --queue-depth pieces only)")
      ("orphan-timeout", po::value(&o->orphan_timeout), "a worker exits when rank 0 is silent this many seconds (default 10)")
      ("progress-interval", po::value(&o->progress_interval), "seconds between progress lines in a log (default 5)")
      ("workers", po::value(&o->spawn_workers), "rank 0 starts this many workers itself, each its own MPI job (launch: mpirun -np 1; needs tcp in the BTL list; scripts/dips-run does this with a hostfile)")
      ("respawn", po::value(&o->respawn), "start a new worker for each lost one, at most this many times per job (default 0: off; needs tcp in the BTL list)")
      ("hosts", po::value(&o->hosts_file), "hostfile (mpirun format, 'host slots=N') of where started workers may go; default: rank 0's machine")
      ("grow-from", po::value(&o->grow_from), "hostfile re-read every 2 s: a host added gets its slots in workers, a host removed is drained (with --workers: mpirun -np 1; see README)")
      ("worker-program", po::value(&o->worker_program), "the dips executable rank 0 starts as a worker on each host (default: its own path; a name without a slash is looked up in each host's PATH)")
      ("spawn-timeout", po::value(&o->spawn_timeout), "a worker start taking longer than this many seconds ends the job with exit 3 (Open MPI waits for ever for a program it cannot start on a host; default 60; 0: wait for ever)")
      ("dashboard", po::value(&o->dashboard), "serve a live view of the job (the report page) on [HOST:]PORT while it runs; HOST defaults to 127.0.0.1, port 0 picks a free one (printed on stderr)")
      ("stop-grace", po::value(&o->stop_grace), "on SIGINT, SIGTERM or SIGUSR1, seconds the pieces in flight get to finish before dips stops, exit 4 (default 1; a second signal stops at once)")
      ("status-file", po::value(&o->status_file), "write the exit code here when done (used by scripts/dips-run)")
      ("status-wake", po::value(&o->status_wake), "a FIFO to write a line to once the status file is written (used by scripts/dips-run)")
      ("quiet,q", po::bool_switch(&o->quiet), "no progress line, no summary on stderr (errors still shown)")
      ("list-ops", po::bool_switch(&o->list_ops), "list the operations and exit")
      ("version", po::bool_switch(&o->version), "print the version and exit")
      ("help,h", po::bool_switch(&o->help), "print this help and exit");
  d.all.add(d.visible).add_options()("input", po::value(&o->job.inputs)->multitoken(), "")(
      "worker-id", po::value(&o->worker_id), "");  // set by rank 0 on the workers it spawns
  d.positional.add("input", -1);
  return d;
}

}  // namespace

const char* io_mode_name(IoMode mode) {
  switch (mode) {
    case IoMode::kAuto: return "auto";
    case IoMode::kShared: return "shared";
    case IoMode::kMpi: return "mpi";
  }
  return "?";
}

Status parse_options(int argc, const char* const* argv, Options* o) {
  if (argc <= 1) return Status::Error(std::string("no arguments\n") + kUsage + "dips --help lists every option.");
  Described d = describe(o);
  po::variables_map vm;
  try {
    po::parsed_options parsed = po::command_line_parser(argc, argv).options(d.all).positional(d.positional).run();
    Status repeats = check_repeats(d.all, &parsed);
    if (!repeats.ok()) return repeats;
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Status::Error(fmt::format("{} (see dips --help)", e.what()));
  }
  if (o->help || o->version || o->list_ops) return Status();
  if (!vm.count("output")) return Status::Error("--output OUTDIR is required (see dips --help)");
  o->job.output_dir = vm["output"].as<std::string>();
  o->report = vm.count("report") ? std::filesystem::path(vm["report"].as<std::string>()) : o->job.output_dir / "report.jsonl";
  o->job.report = o->report;
  const bool manifest = !o->job.manifest.empty();
  if (manifest == !o->job.ops.empty()) return Status::Error("give either --op PIPELINE with inputs, or --manifest FILE (see dips --help)");
  if (manifest && !o->job.inputs.empty()) return Status::Error("--manifest takes no INPUT arguments; list inputs in the manifest");
  if (manifest && !o->job.files_from.empty()) return Status::Error("--files-from goes with --op; a manifest lists its inputs itself");
  if (o->tile_rows < 0) return Status::Error("--tile-rows must be 0 (automatic) or a positive number of rows");
  if (o->max_pixels <= 0 || o->max_pixels > kMaxPixelsCeiling) {
    return Status::Error(fmt::format("--max-pixels must be 1..{} (a 3-channel image must fit one MPI message)", kMaxPixelsCeiling));
  }
  o->job.max_pixels = o->max_pixels;
  if (o->scheduler.ping_interval <= 0 || o->scheduler.ping_timeout <= o->scheduler.ping_interval) {
    return Status::Error("--ping-timeout must be larger than --ping-interval, both positive");
  }
  if (o->scheduler.queue_depth < 1) return Status::Error("--queue-depth must be at least 1");
  if (o->scheduler.lookahead < 0 || o->scheduler.lookahead > 3600) return Status::Error("--lookahead must be 0..3600 seconds");
  if (o->spawn_workers < 0 || o->spawn_workers > 4096) return Status::Error("--workers must be 0..4096");
  if (o->respawn < 0) return Status::Error("--respawn must be 0 or more");
  if (!(o->spawn_timeout >= 0 && o->spawn_timeout <= 86400)) return Status::Error("--spawn-timeout must be 0..86400 seconds (0: no limit)");
  if (!(o->stop_grace >= 0 && o->stop_grace <= 3600)) return Status::Error("--stop-grace must be 0..3600 seconds");
  if (o->threads < 0 || o->threads > 4096) return Status::Error("--threads must be 1..4096 (0: automatic)");
  Status cores = parse_host_cores(vm["host-cores"].as<std::string>(), &o->host_cores);
  if (!cores.ok()) return cores;
  const std::string tail_copies = vm["tail-copies"].as<std::string>();
  if (tail_copies != "on" && tail_copies != "off") return Status::Error(fmt::format("--tail-copies must be on or off (got '{}')", tail_copies));
  o->scheduler.copy_from_suspects = tail_copies == "on";
  const std::string io = vm["io"].as<std::string>();
  if (io == "auto") o->io = IoMode::kAuto;
  else if (io == "shared") o->io = IoMode::kShared;
  else if (io == "mpi") o->io = IoMode::kMpi;
  else return Status::Error(fmt::format("--io must be auto, shared or mpi (got '{}')", io));
  if (!o->job.format.empty() && o->job.format.front() == '.') o->job.format.erase(0, 1);
  if (vm.count("format") && !plain_extension(o->job.format)) {
    return Status::Error(fmt::format("--format takes a file extension such as png, jpg or tif (letters and digits only), not '{}'", o->job.format));
  }
  if (vm.count("dashboard")) {
    DashboardAddress address;
    Status status = parse_dashboard_address(o->dashboard, &address);
    if (!status.ok()) return status;
  }
  return Status();
}

std::string help_text() {
  Options o;
  std::ostringstream out;
  out << "dips " DIPS_VERSION " - distributed image processing over MPI\n\n"
      << kUsage << "\n"
         "Rank 0 coordinates, ranks 1..N-1 work; with one rank, rank 0 does everything.\n"
         "INPUT is an image file or a directory of images. Results go to OUTDIR under the input's path\n"
         "relative to the INPUT it was found under; a report (JSON lines) to OUTDIR/report.jsonl.\n\n"
      << describe(&o).visible
      << "\nExit status: 0 all tasks ok; 1 some tasks failed; 2 usage or manifest error (nothing processed);\n"
         "3 the job could not finish (no worker left, a worker start hung, or the report could not be written);\n"
         "4 interrupted by a signal (--resume does the rest).\n";
  return out.str();
}

std::string list_ops_text() {
  std::string text = fmt::format("{:<20}{:<11}{:<9}{:<13}{:<15}{}\n", "operation", "parameter", "default", "range", "tiling", "description");
  for (const Operation& op : operations()) {
    const bool resize = op.name == "resize";
    const std::string param = op.param.accepted ? (resize ? "n" : "k") : "-";
    const std::string def = op.param.accepted ? (resize ? "none" : std::to_string(op.param.default_value)) : "-";
    const std::string range = op.param.accepted ? fmt::format("{}..{}", op.param.min, op.param.max) : "-";
    text += fmt::format("{:<20}{:<11}{:<9}{:<13}{:<15}{}\n", op.name, param, def, range, tiling_name(op.tiling), op.description);
  }
  return text;
}

}  // namespace dips
