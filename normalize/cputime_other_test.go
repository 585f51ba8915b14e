//go:build !unix

package normalize_test

func processCPU() int64 { return 0 }
