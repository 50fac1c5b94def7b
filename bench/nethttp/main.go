// Command nethttp is a Go net/http "hello world" baseline for benchmarking
// against Haywire. It mirrors Haywire's hello_world sample:
//
//	/      -> "hello world" (Content-Type: text/html)
//	/ping  -> echoes the request body (Content-Type: text/html)
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
)

var helloBody = []byte("hello world")

func root(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{"11"}
	w.Write(helloBody)
}

func ping(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html"}
	h["Content-Length"] = []string{fmt.Sprint(len(body))}
	w.Write(body)
}

func main() {
	port := flag.Int("port", 8002, "port to listen on")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/ping", ping)
	mux.HandleFunc("/", root)

	addr := fmt.Sprintf(":%d", *port)
	log.Printf("net/http hello world listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}
