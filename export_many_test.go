package lambda

// SharedModules reports how many distinct compiled codes r holds, for the
// tests of package lambda_test.
func SharedModules(r *Runtime) int { return r.cache.Modules() }
