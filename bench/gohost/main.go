// Command gohost is a hello-world application host in Go, for measuring
// the engine's side of the bridge without a C or .NET host's costs: one
// goroutine takes each request (Host.Next) and answers it at once, as
// examples/c_host does for "/".
//
//	gohost --region NAME [--region-dir DIR]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

func main() {
	name := flag.String("region", "", "region `name` the engine printed")
	dir := flag.String("region-dir", "", "`directory` of the region files")
	flag.Parse()
	if *name == "" {
		fmt.Fprintln(os.Stderr, "gohost: --region is required")
		os.Exit(2)
	}
	h, err := host.Attach(*name, region.Options{Dir: *dir, AttachTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gohost:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		h.Leave()
	}()
	head := wire.ResponseHead{Status: 200, ContentLength: int64(len(body)),
		Fields: []byte("Content-Type: text/html\r\n")}
	for {
		req, err := h.Next(-1)
		if errors.Is(err, host.ErrDrained) {
			h.Close()
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gohost:", err)
			h.Close()
			os.Exit(3)
		}
		if err := req.Respond(&head, body); err != nil {
			fmt.Fprintln(os.Stderr, "gohost:", err)
		}
	}
}

var body = []byte("hello world")
