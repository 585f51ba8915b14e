//go:build !linux

package main

// listenerPID is only implemented on Linux (/proc); elsewhere load reports
// no CPU time for targets it did not start.
func listenerPID(int) int { return 0 }
