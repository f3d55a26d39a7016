// libhdf5 through pkg-config `hdf5`. HDF5's macro constants (H5P_DEFAULT, H5T_NATIVE_FLOAT, ...)
// are not importable into Swift, so each is exposed here as a small static inline function.
#pragma once
#include <hdf5.h>

static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_t_native_hbool(void) { return H5T_NATIVE_HBOOL; }
static inline hid_t chdf5_t_c_s1(void) { return H5T_C_S1; }
static inline hid_t chdf5_t_std_i8le(void) { return H5T_STD_I8LE; }
static inline unsigned chdf5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline hsize_t chdf5_s_unlimited(void) { return H5S_UNLIMITED; }
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline size_t chdf5_t_variable(void) { return H5T_VARIABLE; }
static inline hid_t chdf5_t_native_int8(void) { return H5T_NATIVE_INT8; }
static inline hid_t chdf5_t_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline H5F_libver_t chdf5_libver_v18(void) { return H5F_LIBVER_V18; }
static inline H5F_libver_t chdf5_libver_latest(void) { return H5F_LIBVER_LATEST; }
