//go:build !race

package testguest

const raceEnabled = false
