package region

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// StaleGrace is how old a region file with an unreadable header must be
// before List calls it stale: younger, its creator may still be writing it.
const StaleGrace = 10 * time.Second

// Info describes a region found by List: one file, which is one lane of
// an engine.
type Info struct {
	Name       string
	Path       string
	Lane       int // from the name
	Lanes      int // from the header; 0 if the header is unreadable
	Size       int64
	Modified   time.Time
	CreatorPID int // 0 if the header is unreadable
	Sides      [SideCount]SideInfo
	Stale      bool   // nobody alive uses it: safe to remove
	Reason     string // why it is (or is not) stale
	Err        error  // header validation error, if any
}

// SideInfo describes one side of a listed region.
type SideInfo struct {
	State string // free, attaching, active, detached
	PID   int
	Alive bool // the pid runs (and, where known, is the same process)
}

// maxHeartbeatWait bounds how long List waits to see heartbeats move.
const maxHeartbeatWait = 2 * time.Second

// heartbeats reads both sides' heartbeat counters from a header.
func heartbeats(hdr []byte) (hb [SideCount]uint64) {
	for s := range SideCount {
		hb[s] = binary.LittleEndian.Uint64(hdr[sideOffset(s)+SideHeartbeatOffset:])
	}
	return hb
}

// beatWait returns how long to wait to see a live side of hdr beat twice.
func beatWait(hdr []byte) time.Duration {
	d := time.Duration(0)
	for s := range SideCount {
		ms := binary.LittleEndian.Uint32(hdr[sideOffset(s)+SideBeatOffset:])
		d = max(d, 2*time.Duration(ms)*time.Millisecond)
	}
	return min(max(d, 10*time.Millisecond), maxHeartbeatWait)
}

// judge fills the liveness part of info from a header. A region looks
// stale when its creator is gone and no side is held by a live process;
// List then confirms with a second look at the heartbeats.
func judge(info *Info, hdr []byte, size int64, now time.Time) {
	l, err := ParseHeader(hdr, size)
	if err != nil {
		info.Err = err
		info.Stale = now.Sub(info.Modified) > StaleGrace
		info.Reason = fmt.Sprintf("unreadable header: %v", err)
		return
	}
	info.CreatorPID = l.CreatorPID
	info.Lanes = l.Lanes
	creatorAlive, tok := processStatus(l.CreatorPID)
	if creatorAlive && l.CreatorToken != 0 && tok != 0 && tok != l.CreatorToken {
		creatorAlive = false // the pid was reused
	}
	live := 0
	for s := range SideCount {
		o := sideOffset(s)
		c := binary.LittleEndian.Uint64(hdr[o+SideClaimOffset:])
		si := SideInfo{State: stateName(claimState(c)), PID: claimPID(c)}
		if claimState(c) == StateAttaching || claimState(c) == StateActive {
			alive, tok := processStatus(si.PID)
			rec := binary.LittleEndian.Uint64(hdr[o+SideTokenOffset:])
			si.Alive = alive && (rec == 0 || tok == 0 || rec == tok)
			if si.Alive {
				live++
			}
		}
		info.Sides[s] = si
	}
	switch {
	case creatorAlive:
		info.Reason = fmt.Sprintf("creator pid %d is alive", l.CreatorPID)
	case live > 0:
		info.Reason = fmt.Sprintf("creator pid %d is gone but %d side(s) are held by live processes", l.CreatorPID, live)
	default:
		info.Stale = true
		info.Reason = fmt.Sprintf("creator pid %d is gone and no side is held by a live process", l.CreatorPID)
	}
}

// keepLanes applies the lane rule of List: the lanes of one engine (one
// uuid) are stale together or not at all, so a lane in use keeps every
// lane of its engine, for an engine that restarts and takes them over.
func keepLanes(infos []Info) {
	inUse := map[uuid.UUID]string{} // uuid -> a lane that is not stale
	for _, in := range infos {
		if id, err := ParseName(in.Name); err == nil && !in.Stale {
			if _, ok := inUse[id]; !ok {
				inUse[id] = in.Name
			}
		}
	}
	for i := range infos {
		in := &infos[i]
		id, err := ParseName(in.Name)
		if other, ok := inUse[id]; ok && err == nil && in.Stale {
			in.Stale = false
			in.Reason = fmt.Sprintf("%s, but %s, a lane of the same engine, is not stale", in.Reason, other)
		}
	}
}

// RemoveStale removes every stale region List finds in dir and returns
// what it removed: all the lanes of an engine that is gone, with its
// hosts.
func RemoveStale(dir string) ([]Info, error) {
	infos, err := List(dir)
	if err != nil {
		return nil, err
	}
	var removed []Info
	var first error
	for _, in := range infos {
		if !in.Stale {
			continue
		}
		if err := removeName(dir, in.Name); err != nil {
			if first == nil {
				first = fmt.Errorf("region: remove stale %s: %w", in.Path, err)
			}
			continue
		}
		removed = append(removed, in)
	}
	return removed, first
}
