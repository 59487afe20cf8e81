package lambda_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	lambda "github.com/wasmlambda/lambda"
	"github.com/wasmlambda/lambda/internal/testguest"
)

// A canary deployment: version 1 serves through the alias live while
// traffic flows; version 2 is published and the alias sends it 10% of the
// invocations, then half, then all of them. No invocation fails along the
// way, and each one tells which version ran it.
func ExampleFunction_UpdateAlias() {
	ctx := context.Background()
	rt, err := lambda.New(lambda.Options{CacheDir: testguest.CacheDir()})
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)
	fn, err := rt.Deploy(ctx, lambda.FunctionConfig{Name: "orders", Code: testguest.MustGo("bytes")})
	if err != nil {
		panic(err)
	}
	v1, _ := fn.PublishVersion(ctx, "the release in service")
	if err := fn.CreateAlias(lambda.Alias{Name: "live", FunctionVersion: v1}); err != nil {
		panic(err)
	}

	// Traffic: four clients invoking the alias until the rollout ends.
	var failed, onV2 atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var ran string
				if _, err := fn.Invoke(ctx, []byte(`{"order":1}`), lambda.WithQualifier("live"), lambda.WithExecutedVersion(&ran)); err != nil {
					failed.Add(1)
				} else if ran == "2" {
					onV2.Add(1)
				}
			}
		}()
	}

	// The new release: update $LATEST while it serves, publish it, and
	// shift the alias to it step by step.
	if err := fn.Update(ctx, lambda.FunctionConfig{Code: testguest.MustGo("bytes"), Environment: map[string]string{"RELEASE": "2"}}); err != nil {
		panic(err)
	}
	v2, _ := fn.PublishVersion(ctx, "the canary")
	for _, weight := range []float64{0.1, 0.5} {
		err := fn.UpdateAlias(lambda.Alias{Name: "live", FunctionVersion: v1, AdditionalVersionWeights: map[string]float64{v2: weight}})
		if err != nil {
			panic(err)
		}
		fmt.Printf("version %s takes %.0f%%\n", v2, weight*100)
		before := onV2.Load()
		for onV2.Load() < before+20 { // let some traffic through
			time.Sleep(time.Millisecond)
		}
	}
	if err := fn.UpdateAlias(lambda.Alias{Name: "live", FunctionVersion: v2}); err != nil {
		panic(err)
	}
	close(stop)
	wg.Wait()

	var ran string
	if _, err := fn.Invoke(ctx, []byte(`{}`), lambda.WithQualifier("live"), lambda.WithExecutedVersion(&ran)); err != nil {
		panic(err)
	}
	fmt.Println("live runs version", ran, "- failed invocations:", failed.Load())
	// Output:
	// version 2 takes 10%
	// version 2 takes 50%
	// live runs version 2 - failed invocations: 0
}
