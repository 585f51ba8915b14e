package main

import (
	"net"
	"os"
	"testing"
)

func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if got := listenerPID(port); got != os.Getpid() {
		t.Fatalf("listenerPID(%d) = %d, want this process (%d)", port, got, os.Getpid())
	}
	ln.Close()
	if got := listenerPID(port); got != 0 {
		t.Fatalf("listenerPID(%d) after close = %d, want 0", port, got)
	}
}
