package region

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// CreateLanes creates the lanes of one engine: lane 0 named opts.Name (a
// fresh name if empty, a lane-0 name otherwise) and lanes 1..lanes-1 named
// LaneName(lane 0, k), each a complete region as Create makes it, with the
// same uuid, its lane number and the lane count in its header, attached as
// side 0. Lane 0 is created last, so a host that finds it finds every
// lane. Each lane is closed (and its file removed) by its own Close. On
// failure every lane already created is closed and removed again.
//
// Each lane maps its own rings and arenas: lanes times the memory of one
// region.
func CreateLanes(opts Options, lanes int) ([]*Region, error) {
	if lanes < 1 || lanes > MaxLanes {
		return nil, fmt.Errorf("%w: %d lanes, want 1 to %d", ErrConfig, lanes, MaxLanes)
	}
	base, err := baseName(opts.Name)
	if err != nil {
		return nil, err
	}
	rs := make([]*Region, lanes)
	for k := lanes - 1; k >= 0; k-- {
		r, err := create(opts, LaneName(base, k), k, lanes)
		if err != nil {
			for _, c := range rs[k+1:] {
				c.Close()
			}
			return nil, fmt.Errorf("%w (creating lane %d of %d)", err, k, lanes)
		}
		rs[k] = r
	}
	return rs, nil
}

// OpenAnyLane attaches as side 1 (a host) to the first free lane of the
// engine whose lane-0 name is name, the name the engine prints. It reads
// the lane count from lane 0's header, then tries lanes 0, 1, ... in
// order; a lane whose side 1 is taken -- by a live host, or by a dead one
// the engine has not reclaimed yet -- is skipped. Every lane is validated
// as Open validates a region, and must record the lane count of lane 0.
//
// If every lane is taken it fails with an error wrapping ErrSideBusy that
// says so and names the occupants. With opts.AttachTimeout > 0 it scans
// again until one is free or the timeout has passed. A missing lane 0 is
// ErrNotFound at once, as with Open.
func OpenAnyLane(name string, opts Options) (*Region, error) {
	_, lane, err := ParseLaneName(name)
	if err != nil {
		return nil, err
	}
	if lane != 0 {
		return nil, fmt.Errorf("%w: %q is lane %d; OpenAnyLane takes the lane-0 name %s", ErrName, name, lane, LaneName(name, 0))
	}
	opts.setDefaults()
	deadline := time.Now().Add(opts.AttachTimeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		r, err := scanLanes(name, opts)
		if r != nil || !errors.Is(err, ErrSideBusy) {
			return r, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, err
		}
		time.Sleep(min(pause, left))
	}
}

// scanLanes makes one pass of OpenAnyLane over the lanes of base.
func scanLanes(base string, opts Options) (*Region, error) {
	lanes := 1 // until lane 0's header says
	var taken []string
	for k := 0; k < lanes; k++ {
		name := LaneName(base, k)
		m, l, err := openValidated(opts.Dir, name)
		if err != nil {
			if k > 0 && errors.Is(err, ErrNotFound) {
				// The engine is closing its lanes (lane 0 is created
				// last, so it is not still creating them).
				taken = append(taken, fmt.Sprintf("lane %d: not found", k))
				continue
			}
			return nil, err
		}
		if k == 0 {
			lanes = l.Lanes
		} else if l.Lanes != lanes {
			m.close()
			return nil, fmt.Errorf("%w: %s records %d lanes, lane 0 records %d (%s)", ErrLayout, name, l.Lanes, lanes, m.path)
		}
		r, err := attachSide(name, m, l, 1, opts, 0)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrSideBusy) {
			return nil, err
		}
		taken = append(taken, fmt.Sprintf("lane %d: %s", k, strings.TrimPrefix(err.Error(), ErrSideBusy.Error()+": ")))
	}
	what := fmt.Sprintf("all %d lanes of %s are", lanes, base)
	if lanes == 1 {
		what = fmt.Sprintf("the only lane of %s is", base)
	}
	return nil, fmt.Errorf("%w: %s taken (%s)", ErrSideBusy, what, strings.Join(taken, "; "))
}
