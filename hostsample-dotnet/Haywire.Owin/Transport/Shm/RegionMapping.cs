using System;
using System.Collections.Generic;
using System.IO;
using System.IO.MemoryMappedFiles;

namespace Haywire.Owin.Transport.Shm
{
    /// <summary>
    /// One region file mapped read-write whole, with its header validated (lifecycle steps 1-2 of
    /// haywire_shm.h section 1). Base stays valid until Dispose.
    /// </summary>
    internal sealed unsafe class RegionMapping : IDisposable
    {
        private MemoryMappedFile _file;
        private MemoryMappedViewAccessor _view;
        private bool _pointerHeld;

        public readonly string Name;
        public readonly string Path;
        public readonly ulong Size;
        public byte* Base { get; private set; }

        private RegionMapping(string name, string path, ulong size)
        {
            Name = name;
            Path = path;
            Size = size;
        }

        /// <summary>The directories searched for a region: regionDir, or /dev/shm (if present) then the temp dir.</summary>
        public static List<string> Directories(string regionDir)
        {
            var dirs = new List<string>();
            if (!string.IsNullOrEmpty(regionDir))
            {
                dirs.Add(regionDir);
                return dirs;
            }
            if (Directory.Exists("/dev/shm"))
                dirs.Add("/dev/shm");
            string tmp = System.IO.Path.GetTempPath().TrimEnd('/');
            if (tmp.Length == 0)
                tmp = "/tmp";
            if (!dirs.Contains(tmp))
                dirs.Add(tmp);
            return dirs;
        }

        /// <summary>
        /// Opens region name in dirs, refusing anything but a regular file of this user with mode 0600 (no
        /// symbolic link: /dev/shm is world-writable), maps it and validates the header and its UUID and lane.
        /// Throws HaywireException with the reason; NotFound is set when no directory holds the name.
        /// </summary>
        public static RegionMapping Open(string name, List<string> dirs)
        {
            var uuid = new byte[16];
            int lane;
            if (!RegionNames.TryParse(name, uuid, out lane))
                throw new HaywireException("not a region name: \"" + name + "\" (want haywire-<lowercase uuid> or haywire-<uuid>.<lane>)");
            string path = null;
            NativeMethods.FileFacts facts = default(NativeMethods.FileFacts);
            foreach (string d in dirs)
            {
                string p = System.IO.Path.Combine(d, name);
                facts = NativeMethods.Lstat(p);
                if (facts.Exists)
                {
                    path = p;
                    break;
                }
            }
            if (path == null)
                throw new RegionNotFoundException("no such region: " + name + " is not in " + string.Join(", ", dirs));
            CheckFile(path, facts);
            var m = new RegionMapping(name, path, facts.Known ? facts.Size : (ulong)new FileInfo(path).Length);
            try
            {
                m.Map();
                if (facts.Known)
                {
                    // The checks above were made on a path: make sure the file mapped is the file checked.
                    NativeMethods.FileFacts again = NativeMethods.Lstat(path);
                    if (!again.Exists || again.Inode != facts.Inode || again.DevMajor != facts.DevMajor || again.DevMinor != facts.DevMinor)
                        throw new HaywireException("region " + path + " was replaced while it was being opened");
                }
                string why;
                int code = RegionHeader.Check(m.Base, m.Size, out why);
                if (code == RegionHeader.Ok)
                    code = RegionHeader.CheckLane(m.Base, uuid, lane, out why);
                if (code != RegionHeader.Ok)
                    throw new HaywireException(HeaderError(code) + ": " + why + " (" + path + ")");
                return m;
            }
            catch
            {
                m.Dispose();
                throw;
            }
        }

        private static string HeaderError(int code)
        {
            switch (code)
            {
                case RegionHeader.ETruncated: return "region shorter than its header or recorded size";
                case RegionHeader.EMagic: return "bad magic: not a region, or not initialised yet";
                case RegionHeader.EVersion: return "unsupported layout version";
                default: return "invalid region layout";
            }
        }

        private static void CheckFile(string path, NativeMethods.FileFacts facts)
        {
            if (!facts.Known)
                return; // no statx here (old kernel or libc): the mapping and header checks still apply
            if (facts.IsSymlink)
                throw new HaywireException("permission denied: " + path + " is a symbolic link");
            if (!facts.IsRegular)
                throw new HaywireException("invalid region: " + path + " is not a regular file (mode 0" + Convert.ToString(facts.Mode, 8) + ")");
            if ((facts.Mode & 0x3F) != 0) // 0077: group and others
                throw new HaywireException("permission denied: " + path + " has mode 0" + Convert.ToString(facts.Mode & 0xFFF, 8) +
                                           ", want 0600 (regions are private to their user)");
            uint euid = NativeMethods.GetEuid();
            if (facts.Uid != euid && euid != 0)
                throw new HaywireException("permission denied: " + path + " belongs to uid " + facts.Uid + ", not " + euid);
            if (facts.Size < ShmLayout.HeaderSize)
                throw new HaywireException("region shorter than its header: " + path + " is " + facts.Size +
                                           " bytes, the header alone needs " + ShmLayout.HeaderSize);
            if (facts.Size > ShmLayout.MaxTotalSize)
                throw new HaywireException("invalid region: " + path + " is " + facts.Size + " bytes, more than " + ShmLayout.MaxTotalSize);
        }

        private void Map()
        {
            if (Size < ShmLayout.HeaderSize)
                throw new HaywireException("region shorter than its header: " + Path + " is " + Size + " bytes");
            try
            {
                _file = MemoryMappedFile.CreateFromFile(Path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
                _view = _file.CreateViewAccessor(0, (long)Size, MemoryMappedFileAccess.ReadWrite);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new HaywireException("permission denied: cannot map " + Path + ": " + e.Message, e);
            }
            catch (IOException e)
            {
                throw new HaywireException("cannot map " + Path + ": " + e.Message, e);
            }
            byte* p = null;
            _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            _pointerHeld = true;
            Base = p;
        }

        public void Dispose()
        {
            if (_pointerHeld)
            {
                _view.SafeMemoryMappedViewHandle.ReleasePointer();
                _pointerHeld = false;
            }
            Base = null;
            if (_view != null)
                _view.Dispose();
            if (_file != null)
                _file.Dispose();
            _view = null;
            _file = null;
        }
    }
}
