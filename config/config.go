package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/haywireowin/haywire/engine"
	"gopkg.in/ini.v1"
)

// ErrUnknownKey is wrapped by errors about keys this package does not know.
// Every error about the configuration's content also wraps engine.ErrConfig.
var ErrUnknownKey = errors.New("unknown key")

// Set applies one key=value pair to cfg. The value is trimmed of spaces.
func Set(cfg *engine.Config, key, value string) error {
	if err := set(cfg, key, value); err != nil {
		return fmt.Errorf("config: %w: %w", engine.ErrConfig, err)
	}
	return nil
}

func set(cfg *engine.Config, key, value string) error {
	value = strings.TrimSpace(value)
	key = strings.ToLower(strings.TrimSpace(key))
	bad := func(err error) error {
		return fmt.Errorf("%s = %q: %v", key, value, err)
	}
	num := func(dst *int) error {
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return bad(errors.New("want a non-negative integer"))
		}
		*dst = n
		return nil
	}
	ms := func(dst *time.Duration) error {
		var n int
		if err := num(&n); err != nil {
			return err
		}
		*dst = time.Duration(n) * time.Millisecond
		return nil
	}
	switch key {
	case "listen_address":
		cfg.Address = value
	case "listen_port":
		if err := num(&cfg.Port); err != nil {
			return err
		}
		if cfg.Port > 65535 {
			return bad(errors.New("want a port number, 0 to 65535"))
		}
	case "thread_count":
		return num(&cfg.Listeners)
	case "balancer":
		if value != string(engine.BalancerIPC) && value != string(engine.BalancerReusePort) {
			return bad(errors.New(`want "ipc" or "reuseport"`))
		}
		cfg.Balancer = engine.Balancer(value)
	case "parser":
		// Haywire chose between parsers; haywire has one.
	case "tcp_nodelay":
		if _, err := parseBool(value); err != nil {
			return bad(err)
		}
	case "listen_backlog":
		return num(&cfg.Backlog)
	case "max_request_size":
		var n int
		if err := num(&n); err != nil {
			return err
		}
		cfg.MaxRequestSize = int64(n)
	case "max_target_bytes":
		return num(&cfg.Limits.MaxTargetBytes)
	case "max_header_bytes":
		return num(&cfg.Limits.MaxHeaderBytes)
	case "max_header_count":
		return num(&cfg.Limits.MaxHeaderCount)
	case "header_timeout_ms":
		return ms(&cfg.HeaderTimeout)
	case "body_timeout_ms":
		return ms(&cfg.BodyTimeout)
	case "idle_timeout_ms":
		return ms(&cfg.IdleTimeout)
	case "write_timeout_ms":
		return ms(&cfg.WriteTimeout)
	case "server_name":
		cfg.ServerName = value
	default:
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, errors.New("want a boolean (1/0, true/false, yes/no, on/off)")
}

// LoadFile applies the INI file at path onto cfg. Keys belong in section
// [http]; keys before any section are taken as [http] too.
func LoadFile(cfg *engine.Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: true}, data)
	if err != nil {
		return fmt.Errorf("config: %w: %s: %w", engine.ErrConfig, path, err)
	}
	for _, sec := range f.Sections() {
		name := sec.Name()
		if !strings.EqualFold(name, ini.DefaultSection) && name != "http" {
			if len(sec.Keys()) == 0 {
				continue
			}
			return fmt.Errorf("config: %w: %s: unknown section [%s]", engine.ErrConfig, path, name)
		}
		for _, k := range sec.Keys() {
			if err := set(cfg, k.Name(), k.Value()); err != nil {
				return fmt.Errorf("config: %w: %s: [http] %w", engine.ErrConfig, path, err)
			}
		}
	}
	return nil
}
