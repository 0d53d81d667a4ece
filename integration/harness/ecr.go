package harness

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"
)

// ECRStandIn answers the one Amazon ECR API call the kubelet's
// ecr-credential-provider makes, GetAuthorizationToken (AWS JSON 1.1), on
// loopback. It is a stand-in because the real API needs an AWS account
// and the network, which tests have neither of; everything else in the
// chain is real: the plugin binary, the AWS SDK's request signing and its
// AWS_ENDPOINT_URL_ECR override, and the registry the token opens.
type ECRStandIn struct {
	URL    string // for AWS_ENDPOINT_URL_ECR
	Region string // the region requests must be signed for
	calls  atomic.Int32
	srv    *httptest.Server
}

// NewECRStandIn hands out user:password as ECR's authorization token, valid
// for ttl, to requests signed with accessKey for region.
func NewECRStandIn(accessKey, region, user, password string, ttl time.Duration) *ECRStandIn {
	s := &ECRStandIn{Region: region}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"UnknownOperationException","message":"only GetAuthorizationToken is stood in for"}`))
			return
		}
		// SigV4: the plugin found the region in the registry's host name
		// and signed with the credentials its env gave it.
		if !strings.Contains(r.Header.Get("Authorization"), "Credential="+accessKey+"/") || !strings.Contains(r.Header.Get("Authorization"), "/"+region+"/ecr/aws4_request") {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`))
			return
		}
		s.calls.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"authorizationData": []map[string]any{{
			"authorizationToken": base64.StdEncoding.EncodeToString([]byte(user + ":" + password)),
			"expiresAt":          float64(time.Now().Add(ttl).Unix()),
			"proxyEndpoint":      "https://" + r.Host,
		}}})
	}))
	s.URL = s.srv.URL
	return s
}

// Calls counts the tokens handed out.
func (s *ECRStandIn) Calls() int { return int(s.calls.Load()) }

// Close stops the stand-in.
func (s *ECRStandIn) Close() { s.srv.Close() }
