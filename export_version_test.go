package lambda

// RetiringVersions counts f's incarnations of $LATEST retired by Update and
// not yet shut down, for the tests of package lambda_test.
func RetiringVersions(f *Function) int {
	f.vs.mu.Lock()
	defer f.vs.mu.Unlock()
	return len(f.vs.retiring)
}

// ResolveQualifier resolves q as an invocation does, and leaves at once:
// the cost of a qualifier, for BenchmarkResolveQualifier.
func ResolveQualifier(f *Function, q string) error {
	v, err := f.vs.resolve(q)
	if err != nil {
		return err
	}
	v.leave()
	return nil
}

// VersionStats returns the pool stats of version q of f, for the tests of
// package lambda_test.
func VersionStats(f *Function, q string) PoolStats {
	v, err := f.vs.lookup(q)
	if err != nil {
		panic(err)
	}
	return v.pool.snapshot()
}
