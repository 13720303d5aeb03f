# Runs at install time (from cmake/install.cmake): writes deploy/systemd/kvip-exporter.service
# with the paths of the prefix being installed to, and the default flags file beside it.
# The source unit is written for /usr (the Debian package): /usr/bin, /etc.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(kvip_sysconfdir "/etc")
else()
  set(kvip_sysconfdir "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(kvip_bin "${CMAKE_INSTALL_PREFIX}/${KVIP_BINDIR}/kvip-exporter")

file(READ "${KVIP_SOURCE_DIR}/deploy/systemd/kvip-exporter.service" kvip_unit)
string(REPLACE "/usr/bin/kvip-exporter" "${kvip_bin}" kvip_unit "${kvip_unit}")
string(REPLACE "/etc/default/kvip-exporter" "${kvip_sysconfdir}/default/kvip-exporter"
       kvip_unit "${kvip_unit}")
string(REPLACE "/etc/kvip-exporter/" "${kvip_sysconfdir}/kvip-exporter/" kvip_unit "${kvip_unit}")
set(kvip_staging "${KVIP_BINARY_DIR}/deploy/install${CMAKE_INSTALL_PREFIX}")
file(WRITE "${kvip_staging}/kvip-exporter.service" "${kvip_unit}")
file(INSTALL "${kvip_staging}/kvip-exporter.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/${KVIP_SYSTEMD_UNIT_DIR}")
file(INSTALL "${KVIP_SOURCE_DIR}/deploy/config/kvip-exporter.default"
     DESTINATION "${kvip_sysconfdir}/default" RENAME kvip-exporter)
