# Installation (cmake --install BUILD [--prefix P]) and the Debian package (cpack -G DEB in BUILD).
#
#   P/bin/dips, P/bin/dips-run             dips-run finds the dips next to itself
#   P/lib/dips/libdips_*.so                the modules (imgcodecs, qr, http), loaded when needed (DIPS_MODULE_RELDIR: dips
#                                          looks there relative to itself, so any prefix works)
#   P/share/dips/dips.sbatch               the Slurm script, pointing at P/bin/dips-run
#   P/share/dips/hostfiles/                hostfile examples
#   P/share/doc/dips/                      README, LICENSE, docs/*.md
#   P/share/man/man1/dips.1                the manual page
include(GNUInstallDirs)

set(DIPS_INSTALL_DATADIR "${CMAKE_INSTALL_DATADIR}/dips")

# The binary is linked once, as it is installed: Open MPI's link flags carry their own -rpath, which
# CMake's rewriting of the build tree's RPATH at install time cannot cope with.
set_target_properties(dips PROPERTIES BUILD_WITH_INSTALL_RPATH ON INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS dips RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS scripts/dips-run DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${DIPS_MODULES} LIBRARY DESTINATION ${DIPS_MODULE_RELDIR})

# Slurm runs a copy of dips.sbatch from its spool folder: the installed copy names the installed dips-run
# (the prefix is known only at install time, hence the substitution then).
install(CODE "
  file(READ \"${PROJECT_SOURCE_DIR}/scripts/dips.sbatch\" text)
  string(REPLACE \"@DIPS_INSTALL_BINDIR@\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\" text \"\${text}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/install/dips.sbatch\" \"\${text}\")
")
install(PROGRAMS ${PROJECT_BINARY_DIR}/install/dips.sbatch DESTINATION ${DIPS_INSTALL_DATADIR})
install(FILES hostfiles/localhost hostfiles/cluster.example DESTINATION ${DIPS_INSTALL_DATADIR}/hostfiles)
install(FILES docs/dips.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
file(GLOB DIPS_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES README.md LICENSE ${DIPS_DOCS} DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The .deb: library dependencies come from the binary (dpkg-shlibdeps), the rest from what dips-run runs.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dips)
set(CPACK_PACKAGE_VENDOR "The dips authors")
set(CPACK_PACKAGE_CONTACT "The dips authors <dips@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "distributed image processing over MPI")
set(CPACK_PACKAGE_DESCRIPTION "dips runs image operations (edges, blur, morphology, histogram equalisation,\n contours, QR/barcode decoding) over a directory of images or a job file, on one machine or a\n cluster, inside one mpirun; every result is pixel-identical to running the operation on the whole image.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)  # as Debian ships binaries: without the debug info of RelWithDebInfo
# dips-run: mpirun, pgrep (procps), awk; bash, perl, setsid and getent are Essential in Debian.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "openmpi-bin, procps, mawk | awk")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "slurm-client")
include(CPack)
