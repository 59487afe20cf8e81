package lambdatest

// Precompile and RaceEnabled expose the race detector's head start to the
// tests.
var (
	Precompile  = precompile
	RaceEnabled = raceEnabled
)
