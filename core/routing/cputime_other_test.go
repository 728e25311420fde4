//go:build !linux

package routing

import "time"

// threadCPU is only measured on Linux; elsewhere the CPU percentile reads 0.
func threadCPU() time.Duration { return 0 }
