// Package tests holds the end-to-end tests that drive the built C library
// and programs as a user would: C test programs compiled against
// include/haywire.h and linked to libhaywire, and the samples, over real
// sockets. The library is built once per run, or taken from
// $HAYWIRE_BUILD_DIR when build.sh has just built it.
package tests
