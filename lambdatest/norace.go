//go:build !race

package lambdatest

const raceEnabled = false
