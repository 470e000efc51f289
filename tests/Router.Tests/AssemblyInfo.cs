// The router runs on Linux; its tests use Unix file modes and sockets freely.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
