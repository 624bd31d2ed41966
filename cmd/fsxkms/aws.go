package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

// noCredentials is what a command that calls AWS says when the SDK finds no
// credentials.
const noCredentials = "no AWS credentials: set AWS_PROFILE or run aws sso login"

// credentialsTimeout bounds the look for credentials: the SDK's chain ends
// with the EC2 instance metadata service, which is slow to give up off EC2.
const credentialsTimeout = 20 * time.Second

// loadAWS loads the AWS SDK configuration as the functions do (AWS_PROFILE,
// AWS_REGION, the per-service endpoint variables, ...), with region when it
// is set, and checks before any call that it has credentials. On failure it
// prints why on stderr, in one line (and, when the user set a profile or
// keys, a second one with the SDK's reason, clipped), and returns ok false:
// the command then exits 2. The returned options are what was loaded with,
// for monitor.NewAWS.
func loadAWS(ctx context.Context, path, region string, stderr io.Writer) (aws.Config, []func(*config.LoadOptions) error, bool) {
	var optFns []func(*config.LoadOptions) error
	if region != "" {
		optFns = append(optFns, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		if missing, ok := errors.AsType[config.SharedConfigProfileNotExistError](err); ok {
			fmt.Fprintf(stderr, "%s: AWS profile %q not found in the AWS config and credentials files (AWS_PROFILE): run aws configure list-profiles\n",
				path, kmsevent.Clip(missing.Profile))
		} else {
			fmt.Fprintf(stderr, "%s: load AWS config: %s\n", path, oneLine(err))
		}
		return aws.Config{}, nil, false
	}
	if cfg.Credentials == nil {
		fmt.Fprintf(stderr, "%s: %s\n", path, noCredentials)
		return aws.Config{}, nil, false
	}
	cctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", path, noCredentials)
		if os.Getenv("AWS_PROFILE") != "" || os.Getenv("AWS_ACCESS_KEY_ID") != "" {
			fmt.Fprintf(stderr, "%s: the SDK said: %s\n", path, oneLine(err))
		}
		return aws.Config{}, nil, false
	}
	return cfg, optFns, true
}

// oneLine is an SDK error for one line: its first line, clipped.
func oneLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return kmsevent.Clip(msg)
}
