# Install rules and Debian packaging (included from the top-level CMakeLists.txt).
#   cmake --install build [--prefix /usr]      binary, systemd unit, default flags, docs
#   (cd build && cpack -G DEB)                  kvip-exporter_<version>_<arch>.deb (prefix /usr)
# The unit names the binary and the flags file by absolute path, so it is written at
# install time for the prefix actually used (`--prefix` included): /usr gives /usr/bin and
# /etc/default, /usr/local gives /usr/local/bin and /usr/local/etc/default.
include(GNUInstallDirs)

set(KVIP_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit goes, relative to the install prefix")

install(TARGETS kvip-exporter RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(CODE "
  set(KVIP_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(KVIP_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  set(KVIP_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(KVIP_SYSTEMD_UNIT_DIR \"${KVIP_SYSTEMD_UNIT_DIR}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/install-service.cmake\")
")
install(FILES ${PROJECT_SOURCE_DIR}/docs/deploy.md ${PROJECT_SOURCE_DIR}/docs/metrics.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- Debian package ----------------------------------------------------------------------
set(CPACK_PACKAGE_NAME kvip-exporter)
set(CPACK_PACKAGE_VENDOR "kvip-exporter")
set(CPACK_PACKAGE_CONTACT "kvip-exporter maintainers <kvip-exporter@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Prometheus exporter for kube-vip")
set(CPACK_PACKAGE_DESCRIPTION
    "Exposes kube-vip's control-plane state to Prometheus: VIP binding from netlink, the\
 leader Lease, kube-vip's own metrics and log, and the VIP's API server health.")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/rommelporras/kvip-exporter")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# Library dependencies from dpkg-shlibdeps, so they follow whatever the binary links.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
# A local edit of /etc/default/kvip-exporter survives upgrades.
file(WRITE ${PROJECT_BINARY_DIR}/deploy/debian/conffiles "/etc/default/kvip-exporter\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deploy/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
