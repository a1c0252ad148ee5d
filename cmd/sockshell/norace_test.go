//go:build !race

package main

// memoryFactor scales the memory a test allows (see race_test.go).
const memoryFactor = 1
