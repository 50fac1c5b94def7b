// Package config reads haywire's configuration: the INI file of
// hw_init_from_config and the launcher's --config, the key/value pairs of
// hw_config_set, and the launcher's flags, all applied onto Settings (an
// engine.Config and the bridge's options). Every key Haywire's
// configuration struct has can be set, plus the engine's own limits and
// timeouts and the bridge's keys.
//
// Every key is spelled once, in the table of keys.go: its name, INI
// section, launcher flag, default, doc line and the function that parses,
// validates and stores its value. Set, LoadFile's section checks, Keys and
// the launcher's flags and --help text are derived from it, and
// docs/configuration.md's key tables are generated from it (go test
// ./config -run TestConfigurationDoc -update); tests compare the table
// with that file and with include/haywire.h. A key is listed inside its
// section's part of the table, so none can lack a section.
//
// Unknown sections and keys are errors, so a typo is never silently
// ignored. Functions in this package are safe for concurrent use; it
// imports engine, bridge and region for their option types only.
package config
