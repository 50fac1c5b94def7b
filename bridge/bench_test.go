package bridge

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
)

// BenchmarkBridgeHello measures a hello-world request through the whole
// bridge, engine and host in this process (the C host runs the same host
// code through cgo): per op, one request, pipelined in batches of depth.
func BenchmarkBridgeHello(b *testing.B)          { benchBridge(b, 1, false) }
func BenchmarkBridgeHelloPipelined(b *testing.B) { benchBridge(b, 16, false) }

// BenchmarkBridgeHelloPipelinedAdmitted is the same under SetAdmit, as
// the launcher runs its supervised hosts (one here).
func BenchmarkBridgeHelloPipelinedAdmitted(b *testing.B) { benchBridge(b, 16, true) }

func benchBridge(b *testing.B, depth int, admitted bool) {
	dir := b.TempDir()
	br, err := New(Options{Region: region.Options{Dir: dir}})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	if admitted {
		br.SetAdmit(func(int) bool { return true })
	}
	srv, err := engine.New(engine.Config{Address: "127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	srv.SetNotFound(br)
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(context.Background())
	h, err := host.Attach(br.Name(), region.Options{Dir: dir, AttachTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		h.Serve(ctx, func(v wire.View, w *host.ResponseWriter) { w.WriteString("hello world") })
		close(served)
	}()
	defer func() { cancel(); <-served; h.Close() }()
	for br.Stats().HostPID == 0 {
		time.Sleep(time.Millisecond)
	}
	req := strings.Repeat("GET / HTTP/1.1\r\nHost: bench\r\n\r\n", depth)
	const respLen = len("HTTP/1.1 200 OK\r\nServer: haywire\r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\nContent-Length: 11\r\n\r\nhello world")
	b.ReportAllocs()
	b.SetParallelism(16) // 32 connections on 2 CPUs, as the wrk runs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		buf := make([]byte, respLen*depth)
		rd := bufio.NewReaderSize(c, 64<<10)
		for pb.Next() {
			if _, err := io.WriteString(c, req); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(rd, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.SetBytes(int64(depth)) // MB/s reads as millions of requests per second
}
