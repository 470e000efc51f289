using System.Security.Cryptography;

namespace Router.Identity;

/// <summary>
/// Loads the router's key from <c>Router:KeyFile</c>, creating it on first start. The file
/// holds a PKCS#8 PEM private key, is created with mode 0600, and is refused when group or
/// others may read it: a leaked key lets anyone impersonate this router.
/// </summary>
internal static class KeyFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Loads the key, or creates and stores a new one when the file does not exist.</summary>
    /// <exception cref="KeyFileException">The file cannot be read, is not a key, or is open to others.</exception>
    public static RouterIdentity LoadOrCreate(string path, out bool created)
    {
        if (!File.Exists(path))
        {
            created = true;
            return Create(path);
        }

        created = false;
        return Load(path);
    }

    public static RouterIdentity Load(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & GroupOrOther) != 0)
            {
                throw new KeyFileException(
                    $"Key file {path} is accessible to other users (mode {ToOctal(mode)}); refusing to use it. Run: chmod 600 {path}");
            }
        }

        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyFileException($"Key file {path} cannot be read: {e.Message}", e);
        }

        try
        {
            return RouterIdentity.FromPem(pem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new KeyFileException($"Key file {path} does not hold a P-256 private key in PEM form: {e.Message}", e);
        }
    }

    public static RouterIdentity Create(string path)
    {
        var identity = RouterIdentity.Create();
        try
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }

            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnly;
            }

            using (var stream = new FileStream(path, options))
            using (var writer = new StreamWriter(stream))
            {
                writer.Write(identity.ExportPem());
            }

            return identity;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            identity.Dispose();
            throw new KeyFileException($"Key file {path} cannot be created: {e.Message}", e);
        }
    }

    private static string ToOctal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}

/// <summary>A key file that cannot be used, with a message meant for the operator.</summary>
internal sealed class KeyFileException : Exception
{
    public KeyFileException(string message) : base(message)
    {
    }

    public KeyFileException(string message, Exception inner) : base(message, inner)
    {
    }
}
