//go:build !goexperiment.jsonv2

package guest

// fastJSON turns on the SDK's own handling of json.RawMessage and []byte
// (json.go), which gives what encoding/json gives.
const fastJSON = true
