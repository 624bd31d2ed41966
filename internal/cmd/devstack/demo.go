package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/fsxserver"
	"github.com/fsxkms/fsxkms/internal/scenario"
)

// seedDemo gives a stack started with scenario.SeedYAML the rest of the
// demo world: the FSx resources, and the keys' policies and FSx grants.
func seedDemo(ctx context.Context, s *devstack.Stack) error {
	inv, err := fsxserver.ParseInventory(scenario.InventoryJSON(scenario.Resources()))
	if err == nil {
		err = s.FSx.SetInventory(inv)
	}
	if err != nil {
		return fmt.Errorf("demo world: FSx inventory: %w", err)
	}
	client := kms.New(kms.Options{Region: s.Region, BaseEndpoint: aws.String(s.KMSEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := scenario.Setup(ctx, client); err != nil {
		return fmt.Errorf("demo world: %w", err)
	}
	return nil
}
