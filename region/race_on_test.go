//go:build race

package region

// raceEnabled: the race detector instruments every memory access (its
// atomics go through the race runtime too), making the descriptor hot path
// roughly 10-20 times slower. It cannot see the mapped memory, so race
// builds add nothing to the cross-process tests but time; they run with
// smaller counts (see stressCount) and the full counts run without -race.
const raceEnabled = true
