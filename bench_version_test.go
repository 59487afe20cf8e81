package lambda_test

import (
	"context"
	"testing"

	lambda "github.com/wasmlambda/lambda"
)

// BenchmarkInvokeQualified: the 1 KiB echo of the bytes guest, warm,
// invoked unqualified, through a version's number, through an alias of
// that version, and through an alias with a weight on a second version:
// what resolving a qualifier and routing an alias cost (docs/PERFORMANCE.md,
// "Versions and aliases").
func BenchmarkInvokeQualified(b *testing.B) {
	rt := benchRuntime(b)
	ctx := context.Background()
	f := benchDeploy(b, rt, lambda.FunctionConfig{Name: "echo", Code: echoGuest(b, "bytes"), MinWarm: 1})
	if _, err := f.PublishVersion(ctx, ""); err != nil {
		b.Fatal(err)
	}
	if err := f.Update(ctx, lambda.FunctionConfig{Environment: map[string]string{"STAGE": "two"}, MinWarm: 1}); err != nil {
		b.Fatal(err)
	}
	if _, err := f.PublishVersion(ctx, ""); err != nil {
		b.Fatal(err)
	}
	for _, v := range []string{"1", "2"} {
		if err := f.PutProvisionedConcurrency(ctx, v, 1); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "1"}); err != nil {
		b.Fatal(err)
	}
	if err := f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 0.1}}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, qualifier string }{
		{"unqualified", ""}, {"version", "1"}, {"alias", "live"}, {"weighted-alias", "canary"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var opts []lambda.InvokeOption
			if bc.qualifier != "" {
				opts = append(opts, lambda.WithQualifier(bc.qualifier))
			}
			b.SetBytes(int64(len(payload1K)))
			b.ReportAllocs()
			for b.Loop() {
				out, err := f.Invoke(ctx, payload1K, opts...)
				if err != nil || len(out) != len(payload1K) {
					b.Fatal(err, len(out))
				}
			}
		})
	}
}

// BenchmarkResolveQualifier: resolving the qualifier alone, which is all
// that an alias adds to an invocation over its version: the
// noise-free figure beside BenchmarkInvokeQualified.
func BenchmarkResolveQualifier(b *testing.B) {
	rt := benchRuntime(b)
	ctx := context.Background()
	f := benchDeploy(b, rt, lambda.FunctionConfig{Name: "echo", Code: echoGuest(b, "bare")})
	for range 2 {
		if _, err := f.PublishVersion(ctx, ""); err != nil {
			b.Fatal(err)
		}
		if err := f.Update(ctx, lambda.FunctionConfig{Environment: map[string]string{"STAGE": "next"}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: "1"}); err != nil {
		b.Fatal(err)
	}
	if err := f.CreateAlias(lambda.Alias{Name: "canary", FunctionVersion: "1", AdditionalVersionWeights: map[string]float64{"2": 0.1}}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, qualifier string }{
		{"unqualified", ""}, {"version", "1"}, {"alias", "live"}, {"weighted-alias", "canary"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := lambda.ResolveQualifier(f, bc.qualifier); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
