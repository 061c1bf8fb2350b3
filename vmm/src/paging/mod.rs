//! x86-64 page tables as data: decoding entries, walking, enumerating. Pure:
//! no KVM, only a reader of guest-physical memory.
