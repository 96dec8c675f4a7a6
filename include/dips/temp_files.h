#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace dips {

// Temporary files of outputs being written (write_file_atomic): ".dips-tmp-<host hash>-<pid>-<n>" next to
// the output, renamed over it once complete. The name says which process on which host writes it, so that
// a later run tells a leftover of a dead writer from a file that is still being written.

// Creates a fresh temporary file in `folder` (O_EXCL, mode 0644) and registers it as this process's.
// Returns its descriptor, or -1 with errno set (ECANCELED once remove_own_temp_files() has run).
int create_temp_file(const std::filesystem::path& folder, std::filesystem::path* temp);

// The temporary file was renamed over its output or removed: it is no longer this process's to clean up.
void release_temp_file(const std::filesystem::path& temp);

// Removes every temporary file this process created and has not released, and refuses new ones from now
// on: for a process about to exit while its threads may still be writing outputs (an interrupted job).
void remove_own_temp_files();

// True for the name of one of dips' temporary files.
bool is_temp_file_name(const std::string& name);

// The name prefix of this process's temporary files (".dips-tmp-<host hash>-<pid>-").
std::string own_temp_prefix();

// Removes the temporary files in `folder` (not below it) whose writer is gone: written from this host by a
// process that no longer exists, or from another host and untouched for at least foreign_age_s seconds
// (no dips process on another host outlives that: an orphaned worker exits after --orphan-timeout).
// Returns how many it removed.
size_t remove_stale_temp_files(const std::filesystem::path& folder, double foreign_age_s);

}  // namespace dips
