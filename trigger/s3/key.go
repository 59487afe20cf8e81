package s3

import (
	"net/url"
	"strings"
)

// EncodeKey is an object's key as S3 writes it in an event notification's
// s3.object.key, and as it matches a rule's Prefix and Suffix: form-encoded
// (application/x-www-form-urlencoded, as url.QueryEscape encodes), with a
// space as "+", each byte outside the letters, the digits and "-", "_",
// "." and "~" as %XX in upper-case hexadecimal (a UTF-8 letter such as "é"
// is %C3%A9, "+" is %2B, "%" is %25), and "/" kept as it is.
//
// DecodeKey, like url.QueryUnescape, undoes it.
func EncodeKey(key string) string {
	// QueryEscape writes "/" as %2F, and "%2F" can come from nothing else:
	// a "%" of the key is %25.
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// DecodeKey is the object key that the encoded key s (a record's
// s3.object.key) stands for: "+" is a space and %XX a byte. It fails on a
// "%" that is not followed by two hexadecimal digits.
func DecodeKey(s string) (string, error) {
	return url.QueryUnescape(s)
}
