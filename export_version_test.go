package lambda

// RetiringVersions counts f's incarnations of $LATEST retired by Update and
// not yet shut down, for the tests of package lambda_test.
func RetiringVersions(f *Function) int {
	f.vs.mu.Lock()
	defer f.vs.mu.Unlock()
	return len(f.vs.retiring)
}
