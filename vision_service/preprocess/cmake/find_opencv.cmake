# Locates OpenCV (core, imgproc, imgcodecs, videoio) for the vision pre-processing library.
#
# The top-level CMakeLists.txt calls `find_package(OpenCV QUIET ...)`, but Debian 12's split -dev
# packages (libopencv-{core,imgproc,imgcodecs,videoio}-dev) ship no OpenCVConfig.cmake. Included by
# vision_service/CMakeLists.txt when that search failed, this points the OpenCV_DIR cache entry at
# the small package in opencv_debian/ when no real OpenCV package exists (so later configure runs
# find it at the top level directly). A real installation (libopencv-dev, or OpenCV_DIR given by the
# user) wins. Sets OpenCV_FOUND / OpenCV_INCLUDE_DIRS / OpenCV_LIBS in the including directory.
find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs videoio)
if(NOT OpenCV_FOUND)
  set(OpenCV_DIR "${CMAKE_CURRENT_LIST_DIR}/opencv_debian" CACHE PATH
      "OpenCV package directory (qwen35: Debian split-package fallback)" FORCE)
  find_package(OpenCV QUIET COMPONENTS core imgproc imgcodecs videoio)
endif()
