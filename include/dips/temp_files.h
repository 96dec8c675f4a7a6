#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace dips {

// Temporary files of outputs being written (write_file_atomic): unnamed files linked as the output once
// complete, or, with --overwrite and where a file system has no unnamed files,
// ".dips-tmp-<host hash>-<pid>-<n>" next to the output, renamed over it once complete. The name says which process on which host writes it, so that
// a later run tells a leftover of a dead writer from a file that is still being written.

// Creates a fresh temporary file in `folder` (O_EXCL, mode 0644) and registers it as this process's.
// Returns its descriptor, or -1 with errno set (ECANCELED once remove_own_temp_files() has run).
int create_temp_file(const std::filesystem::path& folder, std::filesystem::path* temp);

// Opens an unnamed file in `folder` (O_TMPFILE, mode 0644), which link_unnamed_file names once it is
// complete: nothing of it is visible before, nothing is left behind by a writer that dies. Making it
// takes no lock on the folder, which a named temporary file and its rename take twice per output (two
// workers writing 64x64 thumbnails into one folder spent a fifth of their time waiting on it). Returns
// -1 with errno set: where the file system has no unnamed files (EOPNOTSUPP, EISDIR: NFS, old kernels),
// or ECANCELED once remove_own_temp_files() has run.
int create_unnamed_file(const std::filesystem::path& folder);

// Whether create_unnamed_file makes unnamed files (default true): tests turn them off to cover the named
// temporary files that file systems without them get.
void use_unnamed_files(bool use);

// Names the unnamed file `fd` `path`, never replacing anything there (EEXIST). Returns 0 or an errno
// (ECANCELED once remove_own_temp_files() has run: an exiting process makes no new outputs).
int link_unnamed_file(int fd, const std::filesystem::path& path);

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
