//go:build !race

package luaapi

// memoryFactor scales the memory a test allows (see race_test.go).
const memoryFactor = 1
