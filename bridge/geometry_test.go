package bridge

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/http1"
	"github.com/haywireowin/haywire/region"
)

// The bound is ViewLen of the largest request: every header field, the
// whole head, the largest inline body.
func TestViewBoundsIsViewLen(t *testing.T) {
	lim := http1.Limits{MaxHeaderBytes: 4096, MaxHeaderCount: 10}
	v := wire.ViewRequest{Head: make([]byte, lim.MaxHeaderBytes), Body: make([]byte, 1000), Fields: make([]wire.FieldSpan, lim.MaxHeaderCount)}
	if head, full := viewBounds(lim, 1000); full != wire.ViewLen(&v) || head != full-1000 {
		t.Fatalf("viewBounds = %d, %d; wire.ViewLen of the largest view = %d", head, full, wire.ViewLen(&v))
	}
}

func TestCheckGeometry(t *testing.T) {
	geo := func(slots, cs, chunks int) *Options {
		return &Options{BodyInline: 64 << 10, Region: region.Options{DataSlots: slots, ChunkSize: cs, Chunks: chunks}}
	}
	if err := checkGeometry(geo(0, 0, 0)); err != nil {
		t.Fatalf("the default geometry: %v", err)
	}
	err := checkGeometry(geo(64, 64, 0))
	// 136 + 100*16 + 32768 + 65536 = 100040 bytes: 1564 chunks of 64.
	for _, want := range []string{"100040 bytes", "1564 descriptors of 64-byte chunks", "a data ring of 64 slots and an arena of 1024 chunks",
		"slots 2048 and chunks 1564 at chunk size 64", "or chunk size 2048 at slots 64 and chunks 1024"} {
		if !errors.Is(err, ErrConfig) || !strings.Contains(fmt.Sprint(err), want) {
			t.Fatalf("--slots 64 --chunk-size 64: %v; want %v saying %q", err, ErrConfig, want)
		}
	}
	// The values it names work, and they are the smallest at that chunk
	// size or slot count.
	for _, ok := range []*Options{geo(2048, 64, 1564), geo(64, 2048, 1024)} {
		if err := checkGeometry(ok); err != nil {
			t.Errorf("suggested %+v: %v", ok.Region, err)
		}
	}
	for _, bad := range []*Options{geo(1024, 64, 1564), geo(2048, 64, 1563), geo(64, 1024, 1024)} {
		if err := checkGeometry(bad); err == nil {
			t.Errorf("%+v accepted; a view of 100040 bytes does not fit", bad.Region)
		}
	}
	// A streamed body needs a chunk beside the view of its head.
	o := geo(64, 4096, 9) // head view 34504 bytes: 9 chunks, none left
	o.BodyInline = 0
	if err := checkGeometry(o); err == nil || !strings.Contains(err.Error(), "an arena of 9 chunks") {
		t.Errorf("9 chunks for a 9-chunk head view: %v; want refused for the arena", err)
	}
	o.Region.Chunks = 10
	if err := checkGeometry(o); err != nil {
		t.Errorf("10 chunks for a 9-chunk head view: %v", err)
	}
	// The engine's own limits decide.
	o = geo(64, 64, 0)
	o.BodyInline, o.RequestLimits = 1, http1.Limits{MaxHeaderBytes: 1024, MaxHeaderCount: 8}
	if err := checkGeometry(o); err != nil {
		t.Errorf("a 1289-byte view in 64 chunks of 64: %v", err)
	}
}
