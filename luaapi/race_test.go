//go:build race

package luaapi

// memoryFactor scales the memory a test allows: the race detector adds
// shadow memory and bookkeeping to every byte the program uses (up to 5-10
// times as much, its documentation says; the flood tests take about 1.7).
const memoryFactor = 2
