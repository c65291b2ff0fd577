"""Contract tests: the SDK against Stoplight Prism mocking Polar's OpenAPI spec."""
