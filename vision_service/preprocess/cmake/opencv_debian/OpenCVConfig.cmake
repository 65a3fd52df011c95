# A minimal OpenCV CMake package for Debian 12's split development packages
# (libopencv-{core,imgproc,imgcodecs,videoio}-dev): they install the headers and the .so links but
# not OpenCVConfig.cmake, which only libopencv-dev ships. Used only when no real OpenCV package is
# found (find_opencv.cmake). Provides OpenCV_FOUND, OpenCV_VERSION, OpenCV_INCLUDE_DIRS and
# OpenCV_LIBS (absolute library paths, so they resolve from any directory).
set(_qwen_cv_components ${OpenCV_FIND_COMPONENTS})
if(NOT _qwen_cv_components)
  set(_qwen_cv_components core imgproc imgcodecs videoio)
endif()
find_path(OpenCV_SHIM_INCLUDE_DIR opencv2/core/version.hpp PATH_SUFFIXES opencv4)
set(OpenCV_FOUND TRUE)
if(NOT OpenCV_SHIM_INCLUDE_DIR)
  set(OpenCV_FOUND FALSE)
  set(OpenCV_NOT_FOUND_MESSAGE "opencv2/core/version.hpp not found")
  return()
endif()
set(OpenCV_INCLUDE_DIRS ${OpenCV_SHIM_INCLUDE_DIR})
set(OpenCV_LIBS)
foreach(_c IN LISTS _qwen_cv_components)
  find_library(OpenCV_SHIM_${_c}_LIBRARY opencv_${_c})
  if(NOT OpenCV_SHIM_${_c}_LIBRARY)
    set(OpenCV_FOUND FALSE)
    set(OpenCV_NOT_FOUND_MESSAGE "libopencv_${_c} not found")
    return()
  endif()
  list(APPEND OpenCV_LIBS ${OpenCV_SHIM_${_c}_LIBRARY})
endforeach()
file(STRINGS ${OpenCV_SHIM_INCLUDE_DIR}/opencv2/core/version.hpp _qwen_cv_version
     REGEX "^#define CV_VERSION_(MAJOR|MINOR|REVISION) +[0-9]+")
string(REGEX REPLACE ".*MAJOR +([0-9]+).*MINOR +([0-9]+).*REVISION +([0-9]+).*" "\\1.\\2.\\3"
       OpenCV_VERSION "${_qwen_cv_version}")
set(OpenCV_SHIM TRUE)
