//go:build goexperiment.jsonv2

package guest

// fastJSON is off under GOEXPERIMENT=jsonv2, where encoding/json is
// implemented on encoding/json/v2 and differs from the classic one in
// details the SDK's own handling follows (it escapes U+2028 and U+2029
// when it compacts a json.RawMessage, for one): every event and response
// then goes through encoding/json, as aws-lambda-go's do in the same build.
const fastJSON = false
