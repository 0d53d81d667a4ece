// Package testkit holds what only tests use: signing and trust roots made
// on the fly, KMS servers, the switch that turns a skip into a failure.
// Production code never imports it (TestProductionImportsNoTestKit); the
// production helpers are the other packages of internal/.
package testkit
