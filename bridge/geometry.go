package bridge

import (
	"fmt"
	"math/bits"

	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/http1"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/region/arena"
)

// viewBounds returns the longest request views the engine may send under
// lim (zero fields: http1.DefaultLimits): head for a request whose body
// streams (the view holds the head alone) and full for one with an inline
// body. A view is ViewHeaderLen, a field table entry per header field and
// the raw head (ViewLen); an inline body holds up to bodyInline bytes
// (StreamBody streams longer ones).
func viewBounds(lim http1.Limits, bodyInline int) (head, full int) {
	head = wire.ViewHeaderLen + lim.MaxHeaderCount*wire.FieldEntryLen + lim.MaxHeaderBytes
	return head, head + bodyInline
}

// requestLimits returns lim with zero fields set to the defaults, as the
// engine's configuration does.
func requestLimits(lim http1.Limits) http1.Limits {
	if lim.MaxHeaderBytes <= 0 {
		lim.MaxHeaderBytes = http1.DefaultLimits.MaxHeaderBytes
	}
	if lim.MaxHeaderCount <= 0 {
		lim.MaxHeaderCount = http1.DefaultLimits.MaxHeaderCount
	}
	return lim
}

// checkGeometry refuses a ring and arena geometry in which a request the
// engine accepts could never be sent: a view goes out in one go, one
// chunk per ChunkSize bytes and one ring slot per chunk (SendBytes), so
// the longest view must fit in DataSlots descriptors and Chunks chunks;
// and a streamed body needs a chunk beside its request's view, which the
// host may hold while it reads the body. Such a geometry would answer
// those requests 503 forever. The error names the smallest values that
// work. Zero fields mean the region's defaults; values the region itself
// refuses (not powers of two, out of range) are left to it.
func checkGeometry(o *Options) error {
	slots, cs, chunks := o.Region.DataSlots, o.Region.ChunkSize, o.Region.Chunks
	if slots == 0 {
		slots = region.DefaultDataSlots
	}
	if cs == 0 {
		cs = region.DefaultChunkSize
	}
	if chunks == 0 {
		chunks = region.DefaultChunks
	}
	if slots <= 0 || cs < arena.MinChunkSize || cs > arena.MaxChunkSize || cs&(cs-1) != 0 || chunks <= 0 {
		return nil // region.CreateLanes says what is wrong
	}
	lim := requestLimits(o.RequestLimits)
	head, full := viewBounds(lim, o.BodyInline)
	needSlots, needChunks := geometryNeeds(head, full, cs)
	if needSlots <= slots && needChunks <= chunks {
		return nil
	}
	what := fmt.Sprintf("a data ring of %d slots", slots)
	if needSlots <= slots {
		what = fmt.Sprintf("an arena of %d chunks", chunks)
	} else if needChunks > chunks {
		what += fmt.Sprintf(" and an arena of %d chunks", chunks)
	}
	fix := fmt.Sprintf("slots %d and chunks %d at chunk size %d", max(slots, ceilPow2(needSlots)), max(chunks, needChunks), cs)
	for c := cs * 2; c <= arena.MaxChunkSize; c *= 2 {
		if s, k := geometryNeeds(head, full, c); s <= slots && k <= chunks {
			fix += fmt.Sprintf(", or chunk size %d at slots %d and chunks %d", c, slots, chunks)
			break
		}
	}
	return fmt.Errorf("%w: the largest request the engine accepts can never be sent to a host: its view is up to %d bytes "+
		"(a %d-byte view header, %d bytes per header field for %d fields, a %d-byte head, a %d-byte inline body), "+
		"%d descriptors of %d-byte chunks sent at once, and %s cannot hold it; smallest working values: %s "+
		"(or a smaller inline body limit, body_inline)",
		ErrConfig, full, wire.ViewHeaderLen, wire.FieldEntryLen, lim.MaxHeaderCount, lim.MaxHeaderBytes, o.BodyInline,
		needSlots, cs, what, fix)
}

// geometryNeeds returns the ring slots and arena chunks the longest views
// need at chunk size cs.
func geometryNeeds(head, full, cs int) (slots, chunks int) {
	slots = (full + cs - 1) / cs
	return slots, max(slots, (head+cs-1)/cs+1)
}

func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
