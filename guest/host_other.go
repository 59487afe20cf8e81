//go:build !wasip1

package guest

// Outside wasip1 there is no host: the built-in host functions fail, and
// hostResult has nothing to fetch. They are variables so that the SDK's own
// tests can stand in for the host.
var (
	settingsGet HostFunc = noHost
	logRecord   HostFunc = noHost
	hostResult           = func(out *byte, outCap uint32) int32 { return -1 }
)
