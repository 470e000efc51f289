using System.Security.Cryptography;

namespace Router.Identity;

/// <summary>
/// Loads the router's key from <c>Router:KeyFile</c>, creating it on first start (and for
/// <c>router keygen</c>). The file holds a PKCS#8 PEM private key, is created with mode 0600,
/// and is refused when group or others may access it: a leaked key lets anyone impersonate
/// this router.
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

    /// <summary>Loads an existing key; refuses a file that group or others may access.</summary>
    /// <exception cref="KeyFileException">The file does not exist, cannot be read, is not a key, or is open to others.</exception>
    public static RouterIdentity Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new KeyFileException($"Key file {path} does not exist.");
        }

        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode;
            try
            {
                mode = File.GetUnixFileMode(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new KeyFileException($"Key file {path} cannot be read: {e.Message}", e);
            }

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

    /// <summary>
    /// Creates a new key and stores it in <paramref name="path"/>: written to a temporary file
    /// beside it, created with mode 0600 by the open call itself (never readable by others, not
    /// even before a chmod), flushed to disk, then moved into place in one step, so the key
    /// file appears whole or not at all. An existing file is left alone unless
    /// <paramref name="overwrite"/>, in which case it is replaced in that one step.
    /// </summary>
    /// <exception cref="KeyFileException">The file exists (and <paramref name="overwrite"/> is false), or cannot be written.</exception>
    public static RouterIdentity Create(string path, bool overwrite = false)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        var identity = RouterIdentity.Create();
        try
        {
            if (!overwrite && File.Exists(fullPath))
            {
                throw new KeyFileException($"Key file {path} already exists; refusing to replace it.", alreadyExists: true);
            }

            Directory.CreateDirectory(directory);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnly;
            }

            using (var stream = new FileStream(temporary, options))
            {
                using (var writer = new StreamWriter(stream, leaveOpen: true))
                {
                    writer.Write(identity.ExportPem());
                }

                stream.Flush(flushToDisk: true);
            }

            // With overwrite this is rename(2), which replaces the old file atomically. Without,
            // .NET on Linux uses link(2) then unlink(2), which fails rather than replace a file
            // that appeared meanwhile (another router or keygen racing us). On a file system
            // without hard links .NET falls back to copying, which is not atomic.
            File.Move(temporary, fullPath, overwrite);
            return identity;
        }
        catch (KeyFileException)
        {
            identity.Dispose();
            throw;
        }
        catch (IOException) when (!overwrite && File.Exists(fullPath))
        {
            identity.Dispose();
            throw new KeyFileException($"Key file {path} already exists; refusing to replace it.", alreadyExists: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            identity.Dispose();
            throw new KeyFileException($"Key file {path} cannot be created: {e.Message}", e);
        }
        finally
        {
            TryDelete(temporary);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only the temporary file of a failed attempt: nothing depends on it.
        }
    }

    private static string ToOctal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}

/// <summary>A key file that cannot be used, with a message meant for the operator.</summary>
internal sealed class KeyFileException : Exception
{
    public KeyFileException(string message, bool alreadyExists = false) : base(message)
    {
        AlreadyExists = alreadyExists;
    }

    public KeyFileException(string message, Exception inner) : base(message, inner)
    {
    }

    /// <summary>True when creating failed only because the file is already there.</summary>
    public bool AlreadyExists { get; }
}
