//! Fixed tables: file extensions, URL schemes, path roots, registry hives.

/// Extensions that make a dotted token a file name: executables, libraries, scripts,
/// documents, archives and disk images, the files indicators are about. Data and source
/// formats (`.log`, `.json`, `.html`, `.c`) are left out: in prose they are far more often
/// code (`console.log`) than dropped files.
pub(crate) fn is_file_extension(ext: &str) -> bool {
    matches!(
        ext,
        "exe"
            | "dll"
            | "sys"
            | "scr"
            | "cpl"
            | "ocx"
            | "drv"
            | "efi"
            | "bat"
            | "cmd"
            | "ps1"
            | "psm1"
            | "psd1"
            | "vbs"
            | "vbe"
            | "js"
            | "jse"
            | "wsf"
            | "wsh"
            | "hta"
            | "lnk"
            | "msi"
            | "msp"
            | "msix"
            | "appx"
            | "jar"
            | "py"
            | "pyc"
            | "pyw"
            | "sh"
            | "elf"
            | "bin"
            | "so"
            | "ko"
            | "dylib"
            | "apk"
            | "ipa"
            | "dmg"
            | "pkg"
            | "deb"
            | "rpm"
            | "run"
            | "iso"
            | "img"
            | "vhd"
            | "vhdx"
            | "vmdk"
            | "doc"
            | "docx"
            | "docm"
            | "dotm"
            | "xls"
            | "xlsx"
            | "xlsm"
            | "xlsb"
            | "xll"
            | "xlam"
            | "ppt"
            | "pptx"
            | "pptm"
            | "ppsx"
            | "pdf"
            | "rtf"
            | "odt"
            | "ods"
            | "odp"
            | "one"
            | "chm"
            | "txt"
            | "reg"
            | "inf"
            | "dat"
            | "tmp"
            | "php"
            | "asp"
            | "aspx"
            | "ashx"
            | "jsp"
            | "jspx"
            | "cgi"
            | "pl"
            | "zip"
            | "rar"
            | "7z"
            | "gz"
            | "tgz"
            | "tar"
            | "bz2"
            | "xz"
            | "cab"
            | "arj"
            | "ace"
            | "lzh"
            | "eml"
            | "msg"
            | "scf"
            | "gadget"
    )
}

/// TLDs that are also file extensions: a token ending in one is a file name unless context
/// says domain (defanged, inside a URL or e-mail address, or three or more labels).
pub(crate) fn is_ambiguous_tld(tld: &str) -> bool {
    matches!(
        tld,
        "zip" | "mov" | "sh" | "py" | "pl" | "rs" | "md" | "so" | "ps" | "run" | "pm" | "cc" | "ms" | "app"
    )
}

/// The original generic TLDs and two-letter country codes: names ending in these are
/// domains however they are capitalised. Other TLDs (`.office`, `.windows`) must be
/// written in lower case, since `Microsoft.Office` is code, not a domain.
pub(crate) fn is_classic_tld(tld: &str) -> bool {
    tld.len() == 2
        || matches!(
            tld,
            "com" | "net" | "org" | "info" | "biz" | "gov" | "edu" | "mil" | "int" | "arpa"
        )
}

/// URL schemes that are worth reporting.
pub(crate) fn is_url_scheme(scheme: &str) -> bool {
    matches!(
        scheme,
        "http"
            | "https"
            | "ftp"
            | "ftps"
            | "sftp"
            | "tcp"
            | "udp"
            | "ssh"
            | "smb"
            | "ws"
            | "wss"
            | "ldap"
            | "ldaps"
            | "irc"
            | "ircs"
            | "telnet"
            | "rdp"
            | "file"
            | "git"
            | "ssl"
            | "tls"
            | "socks4"
            | "socks5"
            | "rtsp"
            | "gopher"
            | "dns"
            | "vnc"
            | "mms"
    )
}

/// First components of Unix paths worth reporting (`/tmp/x`, not `and/or`).
pub(crate) fn is_unix_root(component: &str) -> bool {
    matches!(
        component,
        "tmp"
            | "etc"
            | "var"
            | "usr"
            | "bin"
            | "sbin"
            | "home"
            | "root"
            | "opt"
            | "dev"
            | "proc"
            | "sys"
            | "lib"
            | "lib64"
            | "boot"
            | "mnt"
            | "media"
            | "srv"
            | "run"
            | "private"
            | "Library"
            | "Users"
            | "Applications"
            | "System"
            | "Volumes"
            | "data"
            | "sdcard"
            | "storage"
    )
}

/// Registry hive names, full and abbreviated, upper-case.
pub(crate) fn is_registry_hive(hive: &str) -> bool {
    matches!(
        hive,
        "HKEY_LOCAL_MACHINE"
            | "HKEY_CURRENT_USER"
            | "HKEY_CLASSES_ROOT"
            | "HKEY_USERS"
            | "HKEY_CURRENT_CONFIG"
            | "HKEY_PERFORMANCE_DATA"
            | "HKLM"
            | "HKCU"
            | "HKCR"
            | "HKU"
            | "HKCC"
    )
}
